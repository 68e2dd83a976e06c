"""The run queue never trains more runs at once than the limit, however many slots drain it."""

from __future__ import annotations

import threading

from jobs.queue import enqueue
from jobs.threads import blas_env, threads_per_job
from jobs.worker import drain_queue
from storage import reads
from storage.db import open_db


def test_two_slots_with_a_limit_of_one_train_one_run_at_a_time(db_url):
    ids = enqueue([{"dataset": "digits", "hidden": "32", "epochs": 3, "seed": s, "snapshots": False}
                   for s in range(3)], db_url)
    db = open_db(db_url)
    seen_running: list[int] = []
    done = threading.Event()

    def watch():
        while not done.is_set():
            seen_running.append(reads.count_runs(db, status="running"))
            done.wait(0.05)

    watcher = threading.Thread(target=watch)
    slots = [threading.Thread(target=drain_queue, args=(db_url, 1), kwargs={"report": lambda _l: None})
             for _ in range(2)]
    watcher.start()
    for t in slots:
        t.start()
    for t in slots:
        t.join(timeout=300)
    done.set()
    watcher.join()
    runs = reads.list_runs(db, run_ids=ids, limit=10)
    assert all(r.status == "completed" for r in runs)
    assert max(seen_running) == 1  # one at a time, though two slots were draining
    started = sorted(r.started_at for r in runs)
    ended = sorted(r.ended_at for r in runs)
    assert all(e <= s for e, s in zip(ended, started[1:]))  # each began after the previous ended


def test_concurrent_jobs_split_the_cores_between_them():
    assert threads_per_job(1) >= 1
    cores = threads_per_job(1)
    assert threads_per_job(cores) == 1
    assert threads_per_job(2 * cores) == 1  # never zero
    env = blas_env(1, base={})
    assert env["OMP_NUM_THREADS"] == env["OPENBLAS_NUM_THREADS"] == "1"
