"""A sweep launched from the dashboard (`nnlab serve --broker`'s app) goes through the job slot, a Dash
background callback that CeleryManager runs on one of two real `nnlab worker`s, and lands on the
workers over PostgreSQL and Redis; the Runs grid says which worker trained each run."""

from __future__ import annotations

import time

import pytest

from dashboard import ids
from storage import reads
from storage.db import close_all, open_db
from tests.jobs.cluster_procs import Redis, Worker, slot_task_name, tail
from tests.storage.conftest import fresh_postgres_db, postgres_url  # noqa: F401 (a fixture)

from .conftest import fill, select, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def test_a_sweep_started_in_the_browser_is_trained_by_the_workers(dash_duo, tmp_path, postgres_url):  # noqa: F811
    pytest.importorskip("celery")
    from dashboard.app import create_app

    db_url = fresh_postgres_db(postgres_url)
    redis = Redis(tmp_path)
    redis.start()
    workers = []
    try:
        workers = [Worker(tmp_path, name, db_url, redis.url) for name in ("w1", "w2")]
        app = create_app(db_url, cache_dir=str(tmp_path / "cache"), broker_url=redis.url)
        for w in workers:
            w.wait_ready()
        dash_duo.start_server(app)
        dash_duo.wait_for_text_to_equal("h4", "Launch a run")
        select(dash_duo, "dataset", "digits")
        fill(dash_duo, "hidden", "64")
        fill(dash_duo, "epochs", 15)
        dash_duo.find_element("#launch-sweep-on").click()
        dash_duo.wait_for_element("#launch-sweep-text")
        dash_duo.find_element("#launch-sweep-text").send_keys("seed = 0..5")
        dash_duo.find_element("#launch-experiment").send_keys("on-workers\t")
        dash_duo.wait_for_contains_text("#launch-message", "6 runs", timeout=10)
        dash_duo.find_element("#launch-start").click()
        dash_duo.wait_for_contains_text("#launch-message", "Queued sweep 'on-workers': 6 runs", timeout=10)
        wait_until(dash_duo, lambda: _slot_answered(dash_duo), 60, "the job slot's result never came")
        kick, result = _slot_answered(dash_duo)
        assert kick["wanted"] == result["woken"] == 6
        # The slot ran on the worker it names, as the Celery task that the dashboard's CeleryManager sent.
        slot_worker = next(w for w in workers if w.name == result["worker"])
        wait_until(dash_duo, lambda: slot_worker.slot_jobs(slot_task_name(app)), 30,
                   f"no job-slot task in the log of {slot_worker.name}")
        dash_duo.wait_for_contains_text(".sweep-summary summary", "6 done", timeout=180)

        db = open_db(db_url)
        runs = reads.list_runs(db, experiment="on-workers", limit=None, reap=False)
        assert [r.status for r in runs] == ["completed"] * 6, tail(workers[0].log)
        assert {r.worker for r in runs} <= {"w1", "w2"} and all(r.worker for r in runs)
        assert sorted(workers[0].trained() + workers[1].trained()) == sorted(r.id for r in runs)

        dash_duo.driver.get(dash_duo.server_url + "/runs")
        wait_until(dash_duo, lambda: _cells(dash_duo, "worker") & {"w1", "w2"}, 30, "the Runs grid shows no worker")
        assert dash_duo.find_elements("[col-id='queue']")  # the queue position column
        assert dash_duo.get_logs() == []
    finally:
        for w in workers:
            w.stop()
        redis.stop()
        close_all()


def _slot_answered(dash_duo):
    """(the kick, the job slot's result for it) from the page's stores once that result is in, else None."""
    kick, result = dash_duo.driver.execute_script(
        """const s = window.store.getState();
           const data = id => s.paths.strs[id].reduce((o, k) => o[k], s.layout).props.data;
           return [data(arguments[0]), data(arguments[1])];""", ids.WORKERS_KICK, ids.WORKERS_RESULT)
    return (kick, result) if kick and result and result.get("kick") == kick["stamp"] else None


def _cells(dash_duo, col: str) -> set[str]:
    """The texts of the grid's cells in column `col` (empty while the grid redraws them)."""
    from selenium.common.exceptions import StaleElementReferenceException

    try:
        return {c.text for c in dash_duo.find_elements(f".ag-cell[col-id='{col}']")}
    except StaleElementReferenceException:
        return set()


def test_a_start_while_the_broker_is_down_says_so_on_the_page_and_keeps_the_run_queued(dash_duo, tmp_path):
    """`nnlab serve --broker` with nothing listening at the broker's address: Start queues the run and the
    page says the job queue cannot be reached; the job slot is not asked to submit a job it cannot send, so
    no request fails."""
    pytest.importorskip("celery")
    import socket

    from dashboard.app import create_app

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    db_url = f"sqlite:///{tmp_path / 'r.db'}"
    app = create_app(db_url, cache_dir=str(tmp_path / "cache"), broker_url=f"redis://127.0.0.1:{port}/0")
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("h4", "Launch a run")
    fill(dash_duo, "epochs", 3)
    dash_duo.find_element("#launch-start").click()
    dash_duo.wait_for_contains_text(f"#{ids.BROKER_ALERT}", "cannot be reached", timeout=20)
    assert f"127.0.0.1:{port}" in dash_duo.find_element(f"#{ids.BROKER_ALERT}").text
    (run,) = reads.list_runs(open_db(db_url), limit=None)
    assert run.status == "queued"  # nothing lost: it waits for the workers
    result = dash_duo.driver.execute_script(
        """const s = window.store.getState();
           return s.paths.strs[arguments[0]].reduce((o, k) => o[k], s.layout).props.data;""", ids.WORKERS_RESULT)
    assert result is None  # the slot's job was never submitted
    # Before the broker check gated the slot, its request failed with a 500 about 0.6 s after the alert showed.
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        assert dash_duo.get_logs() == []
        time.sleep(0.2)
    close_all()
