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
