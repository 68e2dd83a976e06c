"""Jobs on Celery: a real redis-server, a real Celery worker process, the dashboard with CeleryManager.

The worker builds the same app from the same environment (dashboard/celery_app.py), so the job
slots are Celery tasks; a run launched from the browser must be trained through the worker.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import start_digits_run, wait_until

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]


def _wait_for(condition, timeout: float, failure) -> None:
    """Poll `condition()` until it holds; otherwise raise AssertionError(failure()). (redis-server and the
    worker are other processes: a file appearing is the only signal they give.)"""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(failure())
        time.sleep(0.05)


def _wait_for_text(path: Path, text: str, timeout: float, proc: subprocess.Popen) -> None:
    def seen():
        if proc.poll() is not None:
            raise AssertionError(f"the process exited (code {proc.returncode}); log:\n{_tail(path)}")
        return path.exists() and text in path.read_text(errors="replace")

    _wait_for(seen, timeout, lambda: f"{text!r} not seen within {timeout} s; log:\n{_tail(path)}")


def _tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@pytest.fixture
def celery_env(tmp_path, db_url, monkeypatch):
    """redis-server on a unix socket and one Celery worker, both in tmp_path; yields the worker's log."""
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    pytest.importorskip("celery")
    pytest.importorskip("redis")
    sock = tmp_path / "redis.sock"
    redis = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
                              "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    env = {"NNLAB_DB": db_url, "NNLAB_REDIS_URL": f"redis+socket://{sock}", "NNLAB_MAX_RUNNING": "1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    worker_log = tmp_path / "worker.log"
    worker = None
    try:
        _wait_for(sock.exists, 10, lambda: "redis-server did not start")
        with open(worker_log, "w") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "dashboard.celery_app:celery_app", "worker",
                 "--concurrency=1", "--loglevel=INFO", "--without-gossip", "--without-mingle"],
                cwd=ROOT, env={**os.environ, **env, "PYTHONPATH": str(ROOT)}, stdout=log, stderr=subprocess.STDOUT)
        _wait_for_text(worker_log, "ready.", 60, worker)
        yield worker_log
    finally:
        for proc in (worker, redis):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()


def test_a_run_launched_from_the_browser_trains_on_a_celery_worker(dash_duo, celery_env, db_url):
    import dashboard.celery_app as celery_module

    celery_module = importlib.reload(celery_module)  # built from this test's environment
    dash_duo.start_server(celery_module.dash_app)
    dash_duo.wait_for_text_to_equal("h4", "Launch a run")
    start_digits_run(dash_duo, 1, epochs=3, hidden="32")
    dash_duo.wait_for_contains_text("#launch-live-title", "run #1 (completed)", timeout=90)

    from storage import reads
    from storage.db import open_db

    run = reads.get_run(open_db(db_url), 1)
    assert run.status == "completed" and run.epochs_done == 3
    # the job slot ran as a Celery task in the worker process, not in the server
    wait_until(dash_duo, lambda: "succeeded" in celery_env.read_text(), 20, "the worker never finished a task")
    log = celery_env.read_text()
    assert "background_callback" in log and " received" in log
    assert dash_duo.get_logs() == []
