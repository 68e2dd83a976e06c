"""Scale out with real processes: PostgreSQL, redis-server and two `nnlab worker`s with different names.

A 12-run sweep completes on both workers with every epoch kept; a worker SIGKILLed mid-run leaves its
run crashed within 60 s (marked by the other worker) with its committed epochs, and the other worker
trains the rest; a broker killed and restarted mid-sweep loses and duplicates no run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from jobs.cluster import wake
from jobs.queue import enqueue
from storage import reads
from storage.db import close_all, open_db
from tests.storage.conftest import fresh_postgres_db, postgres_url  # noqa: F401 (a fixture)

from .cluster_procs import PrivatePostgres, Redis, Worker, nnlab_env, tail, wait_for

pytestmark = pytest.mark.postgres
FINAL = ("completed", "cancelled", "failed", "crashed")
SPEC = {"dataset": "digits", "hidden": "64", "snapshots": False}


@pytest.fixture
def cluster(tmp_path, postgres_url):  # noqa: F811
    """A fresh PostgreSQL database, redis-server and two ready workers named w1 and w2."""
    pytest.importorskip("celery")
    db_url = fresh_postgres_db(postgres_url)
    open_db(db_url)  # migrated before the workers start
    redis = Redis(tmp_path)
    redis.start()
    workers = []
    try:
        workers = [Worker(tmp_path, name, db_url, redis.url) for name in ("w1", "w2")]
        for w in workers:
            w.wait_ready()
        yield db_url, redis, workers
    finally:
        for w in workers:
            w.stop()
        redis.stop()
        close_all()


def _wait_final(db, run_ids, timeout_s=240.0) -> list:
    def done():
        return all(s in FINAL for s in reads.run_statuses(db, run_ids).values())

    wait_for(done, timeout_s, lambda: f"runs did not end: {reads.run_statuses(db, run_ids)}")
    return sorted(reads.list_runs(db, run_ids=run_ids, limit=None, reap=False), key=lambda r: r.id)


def _assert_every_epoch(db, run) -> None:
    history = reads.get_metric_history(db, run.id, ["train_loss", "val_loss", "val_accuracy"])
    for key, points in history.items():
        assert [s for s, _ in points] == list(range(1, run.epochs_done + 1)), (run.id, key)


def test_a_sweep_runs_on_both_workers_with_every_epoch(cluster, tmp_path):
    db_url, redis, (w1, w2) = cluster
    out = subprocess.run([sys.executable, "-m", "cli", "sweep", "--db", db_url, "--broker", redis.url,
                          "--dataset", "digits", "--hidden", "64", "--epochs", "20", "--no-snapshots",
                          "--grid", "seed=0..11", "--experiment", "two-workers", "--json", "--quiet"],
                         cwd=tmp_path, env=nnlab_env(), capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr + tail(w1.log) + tail(w2.log)
    result = json.loads(out.stdout)
    assert len(result["run_ids"]) == 12
    db = open_db(db_url)
    runs = _wait_final(db, result["run_ids"])
    assert [r.status for r in runs] == ["completed"] * 12
    assert {r.worker for r in runs} == {"w1", "w2"}  # both trained some
    for run in runs:
        assert run.epochs_done == run.epochs_planned == 20
        _assert_every_epoch(db, run)
    assert sorted(w1.trained() + w2.trained()) == sorted(result["run_ids"])  # each claimed exactly once


def test_a_worker_killed_mid_run_leaves_its_run_crashed_and_the_other_resumes_it_and_trains_the_rest(cluster):
    from jobs.cluster import AUTO_RESUMED

    db_url, redis, (w1, w2) = cluster
    db = open_db(db_url)
    # runs of about a second (not a third), so that w1 is seen mid-run whatever the machine's pace
    run_ids = enqueue([{**SPEC, "hidden": "256,256", "epochs": 60, "seed": s} for s in range(12)], db_url,
                      experiment="kill")
    wake(redis.url, len(run_ids))

    def w1_mid_run():
        return [r for r in reads.list_runs(db, run_ids=run_ids, status="running", limit=None, reap=False)
                if r.worker == "w1" and r.epochs_done >= 2]

    wait_for(w1_mid_run, 120, lambda: f"w1 never got a run going:\n{tail(w1.log)}")
    victim = w1_mid_run()[0]
    w1.kill_tree()
    killed_at = time.monotonic()

    def crashed_or_resumed():  # the watch that marks it crashed resumes it from its checkpoint at once
        run = reads.get_run(db, victim.id)
        return run.status == "crashed" or AUTO_RESUMED in run.tags

    wait_for(crashed_or_resumed, 60, lambda: f"run {victim.id} not marked crashed within 60 s:\n{tail(w2.log)}")
    crashed_after = time.monotonic() - killed_at
    wait_for(lambda: AUTO_RESUMED in reads.get_run(db, victim.id).tags, 30,
             lambda: f"run {victim.id} was not resumed:\n{tail(w2.log)}")
    runs = _wait_final(db, run_ids)
    resumed = next(r for r in runs if r.id == victim.id)
    assert crashed_after < 60
    log = w2.log.read_text(errors="replace")
    assert f"worker w2 marked runs [{victim.id}] crashed" in log  # the surviving worker did it, not a listing
    assert f"run {victim.id} resumed automatically" in log and AUTO_RESUMED in resumed.tags  # recorded
    assert (resumed.status, resumed.epochs_done) == ("completed", 60)
    _assert_every_epoch(db, resumed)  # the committed epochs kept, the rest trained after the resume
    others = [r for r in runs if r.id != victim.id]
    assert all(r.status == "completed" for r in others), [(r.id, r.status) for r in others]
    assert all(r.worker in ("w1", "w2") for r in others)
    for run in others:
        _assert_every_epoch(db, run)
    assert w2.trained().count(victim.id) == 1  # resumed once, trained to completion exactly once


def test_a_broker_restarted_mid_sweep_loses_and_duplicates_no_run(cluster):
    db_url, redis, (w1, w2) = cluster
    db = open_db(db_url)
    run_ids = enqueue([{**SPEC, "epochs": 30, "seed": s} for s in range(12)], db_url, experiment="restart")
    wake(redis.url, len(run_ids))
    wait_for(lambda: sum(s == "completed" for s in reads.run_statuses(db, run_ids).values()) >= 2, 120,
             lambda: f"no run completed:\n{tail(w1.log)}")
    redis.kill()  # every wake message still in the broker is gone
    trained = _epochs_done(db, run_ids)
    wait_for(lambda: _epochs_done(db, run_ids) >= min(trained + 10, 30 * len(run_ids)), 60,  # they train on
             lambda: f"no epoch trained while the broker was away:\n{tail(w1.log)}")
    redis.start()
    runs = _wait_final(db, run_ids)
    assert [r.status for r in runs] == ["completed"] * 12, [(r.id, r.status, r.error) for r in runs]
    for run in runs:
        assert run.epochs_done == 30
        _assert_every_epoch(db, run)
    assert sorted(w1.trained() + w2.trained()) == run_ids  # each trained exactly once


def _epochs_done(db, run_ids) -> int:
    return sum(r.epochs_done for r in reads.list_runs(db, run_ids=run_ids, limit=None, reap=False))


def test_a_run_whose_worker_loses_the_database_ends_failed_with_the_cause_once_it_is_back(tmp_path):
    pytest.importorskip("celery")
    pg = PrivatePostgres()
    pg.start()
    redis, worker = Redis(tmp_path), None
    try:
        db = open_db(pg.url)
        redis.start()
        worker = Worker(tmp_path, "w1", pg.url, redis.url)
        worker.wait_ready()
        [run_id] = enqueue([{**SPEC, "epochs": 2000, "seed": 0}], pg.url)
        wake(redis.url, 1)
        wait_for(lambda: reads.get_run(db, run_id).epochs_done >= 3, 120, lambda: tail(worker.log))
        pg.stop()
        wait_for(lambda: "OperationalError" in worker.log.read_text(), 60,  # met at the worker's next commit
                 lambda: f"the worker never met the lost database:\n{tail(worker.log)}")
        close_all()
        pg.start()
        db = open_db(pg.url)
        wait_for(lambda: reads.run_statuses(db, [run_id])[run_id] in FINAL, 60, lambda: tail(worker.log))
        run = reads.get_run(db, run_id)
        assert run.status in ("failed", "crashed")
        assert "OperationalError" in run.error  # the cause
        assert run.epochs_done >= 3
        _assert_every_epoch(db, run)
    finally:
        if worker is not None:
            worker.stop()
        redis.stop()
        close_all()
        pg.remove()


def test_cancel_stops_running_runs_on_any_worker_and_queued_ones_at_once(cluster, tmp_path):
    db_url, redis, (w1, w2) = cluster
    db = open_db(db_url)
    run_ids = enqueue([{**SPEC, "epochs": 5000, "seed": s} for s in range(3)], db_url, experiment="stop-it")
    wake(redis.url, len(run_ids))

    def both_running():
        runs = reads.list_runs(db, run_ids=run_ids, status="running", limit=None, reap=False)
        return {r.worker for r in runs if r.epochs_done >= 1} == {"w1", "w2"}

    wait_for(both_running, 120, lambda: f"not both running: {reads.run_statuses(db, run_ids)}")
    [queued] = [i for i, s in reads.run_statuses(db, run_ids).items() if s == "queued"]

    def cancel(*args):
        out = subprocess.run([sys.executable, "-m", "cli", "cancel", "--db", db_url, *args], cwd=tmp_path,
                             env=nnlab_env(), capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout

    assert f"run {queued}: cancelled" in cancel(str(queued))  # at once: no worker ever takes it
    assert "stops at its next epoch" in cancel("--experiment", "stop-it")  # the two running, on w1 and w2
    runs = _wait_final(db, run_ids, timeout_s=60)
    assert [r.status for r in runs] == ["cancelled"] * 3
    assert next(r for r in runs if r.id == queued).worker == ""
    for run in runs:
        _assert_every_epoch(db, run)
