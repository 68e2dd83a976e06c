"""The job slot on a real `nnlab worker` (real redis-server): the worker registers exactly the Celery task
that the dashboard's CeleryManager sends for the slot, and runs it, answering through the broker's Redis."""

from __future__ import annotations

import pytest

from tests.jobs.cluster_procs import Redis, Worker, slot_task_name, tail, wait_for


@pytest.fixture
def worker(tmp_path, db_url):
    """redis-server and one ready worker named w1; yields (redis, worker)."""
    pytest.importorskip("celery")
    redis = Redis(tmp_path)
    redis.start()
    w = None
    try:
        w = Worker(tmp_path, "w1", db_url, redis.url)
        w.wait_ready()
        yield redis, w
    finally:
        if w is not None:
            w.stop()
        redis.stop()


def test_a_worker_registers_exactly_the_slot_task_the_dashboard_sends(worker, db_url):
    from dashboard.app import create_app
    from jobs.cluster import WAKE_TASK, make_celery

    redis, w = worker
    expected = slot_task_name(create_app(db_url, broker_url=redis.url))
    replies: dict = {}

    def answered() -> bool:
        replies.update(make_celery(redis.url).control.inspect(timeout=2).registered() or {})
        return bool(replies)

    wait_for(answered, 30, lambda: f"the worker did not answer inspect:\n{tail(w.log)}")
    (registered,) = replies.values()
    assert sorted(registered) == sorted([WAKE_TASK, expected])


def test_the_slot_runs_on_the_worker_and_answers_through_the_result_backend(worker, db_url):
    from dashboard.app import create_app

    redis, w = worker
    app = create_app(db_url, broker_url=redis.url)
    manager = app._background_manager
    job_fn = manager.func_registry[slot_task_name(app).removeprefix("background_callback_")]
    job = manager.call_job_fn("slot-test", job_fn, [{"stamp": 7, "wanted": 2}], {"args": {}})
    wait_for(lambda: manager.result_ready("slot-test"), 60, lambda: f"no result from the slot:\n{tail(w.log)}")
    assert manager.get_result("slot-test", job) == {"kick": 7, "woken": 2, "worker": "w1"}
    wait_for(lambda: w.slot_jobs(job_fn.name) == [job], 30,
             lambda: f"the worker did not log the slot's task:\n{tail(w.log)}")


def test_terminating_a_slot_job_as_dash_does_on_retrigger_never_stops_a_training_run(worker, db_url):
    """The worker's only pool process trains a long run; a slot job sent meanwhile waits in the worker,
    and Dash's terminate_job (revoke with terminate=True, what a re-trigger does) reaches no process:
    the run goes on (same pool process) until it is cancelled, and the slot job is discarded unrun."""
    import psutil

    from dashboard.app import create_app
    from jobs.cluster import wake
    from jobs.queue import enqueue
    from storage import reads, writes
    from storage.db import open_db

    redis, w = worker
    db = open_db(db_url)
    (run_id,) = enqueue([{"dataset": "digits", "hidden": "16", "epochs": 100000, "snapshots": False}], db_url)
    wake(redis.url, 1)
    wait_for(lambda: reads.get_run(db, run_id).status == "running", 60, lambda: tail(w.log))
    trainer = reads.get_run(db, run_id).pid

    app = create_app(db_url, broker_url=redis.url)
    manager = app._background_manager
    job_fn = manager.func_registry[slot_task_name(app).removeprefix("background_callback_")]
    job = manager.call_job_fn("slot-retrigger", job_fn, [{"stamp": 8, "wanted": 1}], {"args": {}})
    wait_for(lambda: f"{job_fn.name}[{job}] received" in w.log.read_text(), 30, lambda: tail(w.log))
    manager.terminate_job(job)
    wait_for(lambda: f"Terminating {job}" in w.log.read_text(), 30, lambda: tail(w.log))

    assert reads.get_run(db, run_id).status == "running" and psutil.pid_exists(trainer)
    writes.request_cancel(db, run_id)
    wait_for(lambda: reads.get_run(db, run_id).status != "running", 60, lambda: tail(w.log))
    run = reads.get_run(db, run_id)
    assert (run.status, run.pid) == ("cancelled", trainer)
    wait_for(lambda: f"Discarding revoked task: {job_fn.name}[{job}]" in w.log.read_text(), 30,
             lambda: tail(w.log))
    assert not manager.result_ready("slot-retrigger") and w.slot_jobs(job_fn.name) == []
    assert trainer in [p.pid for p in psutil.Process(w.proc.pid).children()]  # the same pool process, alive
