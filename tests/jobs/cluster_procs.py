"""Real processes for the scale-out tests: redis-server on a unix socket and `nnlab worker`s, in a
test's temporary folder. (The PostgreSQL server comes from tests/storage/conftest.py.)"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

ROOT = Path(__file__).resolve().parents[2]


def wait_for(condition, timeout: float, failure) -> None:
    """Poll `condition()` until it holds; otherwise raise AssertionError(failure()). (Other processes
    give no signal but what they write.)"""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(failure() if callable(failure) else failure)
        time.sleep(0.1)


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-4000:] if path.exists() else ""


class Redis:
    """redis-server on a unix socket (no TCP port, no persistence): start, kill and start again."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed (apt-get install redis-server)")
        self.folder, self.sock, self.proc = folder, folder / "redis.sock", None

    @property
    def url(self) -> str:
        return f"redis+socket://{self.sock}"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", "0", "--unixsocket", str(self.sock),
                                      "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
                                      "--dir", str(self.folder)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.sock.exists, 10, "redis-server did not start")

    def kill(self) -> None:
        """SIGKILL: the broker loses every message it held."""
        self.proc.kill()
        self.proc.wait(timeout=10)
        self.sock.unlink(missing_ok=True)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill()


def nnlab_env(**extra) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT), **extra}


class Worker:
    """One `python -m cli worker` process (what `nnlab worker` runs), logging to a file."""

    def __init__(self, folder: Path, name: str, db_url: str, broker_url: str, concurrency: int = 1) -> None:
        self.name, self.log = name, folder / f"worker-{name}.log"
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "cli", "worker", "--db", db_url, "--broker", broker_url, "--name", name,
                 "--concurrency", str(concurrency), "--threads", "1"], cwd=folder, env=nnlab_env(), stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 60) -> None:
        def ready():
            if self.proc.poll() is not None:
                raise AssertionError(f"worker {self.name} exited ({self.proc.returncode}):\n{tail(self.log)}")
            return "ready." in self.log.read_text(errors="replace")

        wait_for(ready, timeout, lambda: f"worker {self.name} not ready:\n{tail(self.log)}")

    def trained(self) -> list[int]:
        """Run ids this worker's log says it claimed, in order."""
        text = self.log.read_text(errors="replace")
        return [int(line.split(" trains run ")[1].split()[0]) for line in text.splitlines() if " trains run " in line]

    def slot_jobs(self, task: str) -> list[str]:
        """Ids of the dashboard's job-slot tasks (named `task`) this worker's log says succeeded."""
        text = self.log.read_text(errors="replace")
        return [line.split(f"{task}[")[1].split("]")[0] for line in text.splitlines()
                if f"Task {task}[" in line and "] succeeded" in line]

    def kill_tree(self) -> None:
        """SIGKILL the worker and every process under it at once."""
        procs = [psutil.Process(self.proc.pid), *psutil.Process(self.proc.pid).children(recursive=True)]
        for p in procs:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill_tree()


def slot_task_name(app) -> str:
    """The Celery task name that `app`'s CeleryManager gives the job slot: Dash's hash of its callback's
    id and source (what an `nnlab worker` must have registered)."""
    from dash.background_callback.managers import BaseBackgroundCallbackManager

    from dashboard import ids

    callback_id = f"{ids.WORKERS_RESULT}.data"
    fn = app.callback_map[callback_id]["callback"].__wrapped__
    return f"background_callback_{BaseBackgroundCallbackManager.hash_function(fn, callback_id)}"


class PrivatePostgres:
    """A PostgreSQL cluster of one test's own (initdb as an unprivileged user, as in
    tests/storage/conftest.py), which the test may stop and start again."""

    def __init__(self) -> None:
        import tempfile

        from tests.storage import conftest as pg

        folder = Path(tempfile.mkdtemp(prefix="nnlab-pg-"))  # outside pytest's folders, which only root may enter

        self.pg, self.bin = pg, pg._pg_bin_dir()
        if self.bin is None:
            pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
        if os.geteuid() == 0:
            try:
                import pwd

                pwd.getpwnam(pg.PG_USER)
            except KeyError:
                subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                                pg.PG_USER], check=True, capture_output=True)
            shutil.chown(folder, user=pg.PG_USER)
        self.folder, self.data, self.port = folder, folder / "pgdata", pg._free_port()
        self._run([str(self.bin / "initdb"), "-D", str(self.data), "-U", pg.PG_USER, "-A", "trust", "-E", "UTF8",
                   "--no-sync"])
        self.url = f"postgresql+psycopg://{pg.PG_USER}@127.0.0.1:{self.port}/postgres"

    def _run(self, cmd: list[str]) -> None:
        subprocess.run(self.pg._as_pg_user(cmd), check=True, capture_output=True, text=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                   str(self.folder / "server.log"), "-w", "start"])

    def stop(self) -> None:
        """Stop at once (connections are cut, as when the server's machine goes away)."""
        subprocess.run(self.pg._as_pg_user([str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                                            "stop"]), capture_output=True)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)
