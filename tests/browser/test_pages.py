"""Every page in a real browser: sweeps, grouped comparison, the query page, console errors."""

from __future__ import annotations

import pytest

from jobs.run import run_experiment

from .conftest import fill, select, store, wait_until

pytestmark = pytest.mark.browser


def test_a_sweep_of_six_runs_is_one_experiment_and_groups_by_optimizer(start_app, db_url):
    duo = start_app()
    select(duo, "dataset", "xor")
    fill(duo, "hidden", "4")
    fill(duo, "epochs", 3)
    duo.find_element("#launch-sweep-on").click()
    duo.wait_for_element("#launch-sweep-text")
    duo.find_element("#launch-sweep-text").send_keys("optimizer = sgd, momentum, adam\nseed = 0..1")
    duo.find_element("#launch-experiment").send_keys("opt-sweep")
    duo.find_element("#launch-start").click()
    duo.wait_for_contains_text("#launch-message", "Queued sweep 'opt-sweep': 6 runs", timeout=10)
    reads, db = store(db_url)
    wait_until(duo, lambda: reads.count_runs(db, status="completed") == 6, 120, "sweep did not finish")
    runs = reads.list_runs(db, experiment="opt-sweep", limit=10)
    assert len(runs) == 6 and {r.params["optimizer"] for r in runs} == {"sgd", "momentum", "adam"}

    duo.wait_for_page(url=duo.server_url + "/runs")
    duo.wait_for_element(".ag-row[row-id='6']", timeout=15)
    assert sum("opt-sweep" in e.text for e in duo.find_elements(".ag-center-cols-container .ag-row")) == 6

    duo.wait_for_page(url=duo.server_url + "/compare?runs=1,2,3,4,5,6&group=optimizer&metric=accuracy")
    duo.wait_for_element("#compare-curves .legendtext", timeout=20)
    legend = sorted(e.text for e in duo.find_elements("#compare-curves .legendtext"))
    assert legend == ["optimizer=adam (n=2)", "optimizer=momentum (n=2)", "optimizer=sgd (n=2)"]
    assert len(duo.find_elements("#compare-curves .scatterlayer .trace")) == 6  # 3 bands + 3 means
    assert duo.get_logs() == []


def type_query(duo, sql: str) -> None:
    from selenium.webdriver.common.keys import Keys

    box = duo.find_element("#query-text")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(sql)
    wait_until(duo, lambda: box.get_attribute("value") == sql, 5, "the query box did not take the text")


def test_query_page_refuses_delete_and_changes_nothing(start_app, db_url):
    run_experiment({"dataset": "xor", "hidden": "4", "epochs": 2, "snapshots": False}, db_url)
    duo = start_app()
    duo.wait_for_page(url=duo.server_url + "/query")
    type_query(duo, "DELETE FROM runs")
    duo.find_element("#query-run").click()
    duo.wait_for_contains_text("#query-message", "Refused", timeout=10)
    reads, db = store(db_url)
    assert reads.count_runs(db) == 1
    type_query(duo, "SELECT key, COUNT(*) AS n FROM metrics GROUP BY key ORDER BY key")
    duo.find_element("#query-run").click()
    duo.wait_for_contains_text("#query-message", "rows in", timeout=10)
    cells = [e.text for e in duo.find_elements("#query-grid .ag-cell")]
    assert "val_accuracy" in cells
    assert duo.get_logs() == []


def test_every_page_renders_without_console_errors(start_app, db_url):
    first = run_experiment({"dataset": "xor", "hidden": "4", "epochs": 3, "snapshots": False}, db_url)
    run_experiment({"dataset": "xor", "hidden": "8", "epochs": 3, "snapshots": False}, db_url)
    duo = start_app()
    for path, marker in (("/", "Launch a run"), ("/runs", "Runs"), ("/compare?runs=1,2", "Compare runs"),
                         (f"/run/{first.run_id}", f"Run #{first.run_id}"), ("/query", "Query the results"),
                         ("/run/999", "No run #999"), ("/run/99999999999999999999999", "No run in")):
        duo.wait_for_page(url=duo.server_url + path)
        duo.wait_for_contains_text("#_pages_content", marker, timeout=15)
    for family in ("perceptron", "cnn", "resnet", "recurrent", "attention", "mlp"):
        duo.wait_for_page(url=duo.server_url + f"/?family={family}")
        duo.wait_for_contains_text("#_pages_content", "Launch a run", timeout=15)
    assert duo.get_logs() == []
