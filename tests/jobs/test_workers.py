"""Warm workers: one process per slot trains queued runs one after another, outlives whoever started it,
and trains exactly what a fresh process trains."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import psutil
from sqlalchemy import update

from jobs.queue import enqueue
from jobs.threads import blas_env, threads_per_job
from jobs.worker import busy_slots, ensure_workers
from storage import reads
from storage.db import open_db, write_tx
from storage.models import Run

FINAL = ("completed", "cancelled", "failed", "crashed")
SPEC = {"dataset": "digits", "hidden": "16", "epochs": 4, "snapshots": False}


def _wait_final(db, run_ids, timeout_s=120.0) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = reads.list_runs(db, run_ids=run_ids, limit=None, reap=False)
        if len(runs) == len(run_ids) and all(r.status in FINAL for r in runs):
            return sorted(runs, key=lambda r: r.id)
        time.sleep(0.05)
    raise AssertionError(f"runs {run_ids} did not end: {reads.run_statuses(db, run_ids)}")


def _wait_until(predicate, timeout_s=60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_one_warm_process_trains_the_queue_and_matches_a_fresh_process(db_url, tmp_path):
    ids = enqueue([{**SPEC, "seed": s} for s in (0, 1, 2)], db_url)
    assert ensure_workers(db_url, 1) == [0]
    runs = _wait_final(open_db(db_url), ids)
    assert [r.status for r in runs] == ["completed"] * 3
    assert len({r.pid for r in runs}) == 1  # one process claimed all three, reusing its imports and data
    fresh_db = f"sqlite:///{tmp_path / 'fresh.db'}"
    out = subprocess.run([sys.executable, "-m", "cli", "train", "--db", fresh_db, "--dataset", "digits",
                          "--hidden", "16", "--epochs", "4", "--seed", "2", "--no-snapshots", "--json", "--quiet"],
                         capture_output=True, text=True, check=True, env=blas_env(threads_per_job(1)))
    fresh_id = json.loads(out.stdout)["run_id"]
    warm = reads.get_metric_history(open_db(db_url), runs[2].id)  # the third run: data from the cache
    fresh = reads.get_metric_history(open_db(fresh_db), fresh_id)
    warm.pop("epoch_seconds"), fresh.pop("epoch_seconds")
    assert warm == fresh  # bit-identical metrics


def test_a_slot_has_one_worker_and_the_limit_holds(db_url):
    db = open_db(db_url)
    ids = enqueue([{**SPEC, "epochs": 3, "seed": s} for s in range(4)], db_url)
    seen_running: list[int] = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen_running.append(reads.count_runs(db, status="running"))
            done.wait(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert ensure_workers(db_url, 1) == [0]
    assert ensure_workers(db_url, 1) == []  # the slot is taken: no second worker
    runs = _wait_final(db, ids)
    done.set()
    watcher.join()
    assert all(r.status == "completed" for r in runs) and max(seen_running) == 1
    assert ensure_workers(db_url, 2) == [1]  # slot 0 still has its (idle) worker
    _wait_until(lambda: busy_slots(db_url, 2) == 2)


def test_killing_the_starter_and_all_its_children_leaves_the_worker_training(db_url):
    """Dash kills a background job and its children on re-trigger: the worker it started must live on."""
    db = open_db(db_url)
    starter = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from jobs.worker import ensure_workers; "
        f"print(ensure_workers({db_url!r}, 1), flush=True); time.sleep(600)")], stdout=subprocess.PIPE, text=True)
    assert starter.stdout.readline().strip() == "[0]"
    _wait_until(lambda: busy_slots(db_url, 1) == 1)
    parent = psutil.Process(starter.pid)
    for child in parent.children(recursive=True):  # what DiskcacheManager.terminate_job does
        child.kill()
    parent.kill()
    starter.wait(timeout=30)
    assert busy_slots(db_url, 1) == 1
    ids = enqueue([{**SPEC, "seed": 5}], db_url)
    assert _wait_final(db, ids)[0].status == "completed"


def test_a_run_that_cannot_start_fails_and_the_worker_trains_the_next(db_url):
    db = open_db(db_url)
    bad, good = enqueue([{**SPEC, "seed": 0}, {**SPEC, "seed": 1}], db_url)
    with write_tx(db) as conn:  # a spec no version of NN Lab accepts (a hand-edited row, say)
        conn.execute(update(Run).where(Run.id == bad).values(spec=json.dumps({"dataset": "no-such-data"})))
    ensure_workers(db_url, 1)
    first, second = _wait_final(db, [bad, good])
    assert first.status == "failed" and "no-such-data" in first.error
    assert second.status == "completed"


def test_a_database_deleted_and_created_again_gets_new_workers_at_once(db_url, monkeypatch, tmp_path):
    """`rm lab.db` and a new sweep: the workers of the old file (idle for minutes by default) leave their
    slots, so the new file's runs do not wait for them."""
    monkeypatch.setenv("NNLAB_WORKER_IDLE_S", "600")
    first = enqueue([{**SPEC, "epochs": 1}], db_url)
    assert ensure_workers(db_url, 1) == [0]
    assert _wait_final(open_db(db_url), first)[0].status == "completed"
    old = psutil.Process(_wait_final(open_db(db_url), first)[0].pid)
    path = db_url[len("sqlite:///"):]
    from storage.db import close_all

    close_all()
    for suffix in ("", "-wal", "-shm"):
        (tmp_path / (path.rsplit("/", 1)[1] + suffix)).unlink(missing_ok=True)
    monkeypatch.setenv("NNLAB_WORKER_IDLE_S", "3")  # the new file's worker leaves soon after the test
    again = enqueue([{**SPEC, "epochs": 1, "seed": 1}], db_url)  # a new file at the same path
    old.wait(timeout=30)  # the old file's worker left its slot (it would otherwise idle for 600 s)...
    close_all()
    seen = subprocess.run([sys.executable, "-m", "cli", "runs", "--db", db_url, "--format", "json"], capture_output=True,
                          text=True)
    assert seen.returncode == 0 and [r["id"] for r in json.loads(seen.stdout)] == again  # ...and left its WAL
    ensure_workers(db_url, 1)
    assert _wait_final(open_db(db_url), again)[0].status == "completed"
