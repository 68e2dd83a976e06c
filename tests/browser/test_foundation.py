"""The first end-to-end slice in a real browser: launch, watch, list, compare, cancel, refuse."""

from __future__ import annotations

import pytest

from .conftest import click, fill, select, start_digits_run, wait_until

pytestmark = pytest.mark.browser


def _runs(db_url):
    from storage import reads
    from storage.db import open_db

    return reads.list_runs(open_db(db_url), sort="id", descending=False)


def test_launch_watch_list_and_compare_two_runs(start_app, db_url):
    duo = start_app()
    duo.wait_for_text_to_equal("h4", "Launch a run")
    start_digits_run(duo, 1, epochs=4, hidden="32")
    duo.wait_for_contains_text("#launch-finished-runs", "completed", timeout=60)
    assert "epoch 4 of 4" in duo.find_element("#launch-finished-runs").text
    duo.wait_for_contains_text("#launch-live-title", "run #1 (completed)", timeout=10)
    # the live figure shows both loss curves of the run
    assert len(duo.find_elements("#launch-live-curves .scatterlayer .trace")) >= 4

    fill(duo, "lr", 0.01)
    duo.find_element("#launch-start").click()
    duo.wait_for_contains_text("#launch-message", "Started run #2", timeout=10)
    duo.wait_for_contains_text("#launch-live-title", "run #2 (completed)", timeout=60)

    runs = _runs(db_url)
    assert [r.status for r in runs] == ["completed", "completed"]
    assert all(r.epochs_done == 4 for r in runs)

    duo.wait_for_page(url=duo.server_url + "/runs")
    duo.wait_for_element(".ag-row[row-id='1']", timeout=15)
    duo.wait_for_element(".ag-row[row-id='2']", timeout=15)
    row_text = " ".join(e.text for e in duo.find_elements(".ag-row[row-id='1']"))  # pinned + centre parts
    assert "completed" in row_text and "digits" in row_text
    for rid in (1, 2):
        duo.find_element(f".ag-row[row-id='{rid}'] .ag-selection-checkbox input").click()
    for rid in (1, 2):
        wait_until(duo, lambda: duo.find_element(f".ag-row[row-id='{rid}'] .ag-selection-checkbox input")
                   .is_selected(), 5, f"row {rid} not selected")
    duo.find_element("#runs-compare").click()
    wait_until(duo, lambda: "/compare" in duo.driver.current_url, 10, "Compare did not open")
    duo.wait_for_element("#compare-curves .legendtext", timeout=20)
    legend = " ".join(e.text for e in duo.find_elements("#compare-curves .legendtext"))
    assert "#1" in legend and "#2" in legend
    assert "lr=0.001" in legend and "lr=0.01" in legend  # the legend names the setting that differs
    assert "runs=1%2C2" in duo.driver.current_url or "runs=1,2" in duo.driver.current_url
    assert duo.get_logs() == []


def test_cancel_stops_a_run_within_an_epoch_and_marks_it(start_app, db_url):
    duo = start_app()
    select(duo, "dataset", "digits")
    fill(duo, "epochs", 5000)
    fill(duo, "hidden", "256,256")
    duo.find_element("#launch-start").click()
    duo.wait_for_contains_text("#launch-active-runs", "elapsed · ETA", timeout=40)  # running, epochs logged
    click(duo, "[id='{\"run\":1,\"type\":\"cancel-run\"}']")  # the panel re-renders as epochs arrive
    duo.wait_for_contains_text("#launch-message", "Run #1 stops at the end of its current epoch", timeout=10)
    duo.wait_for_contains_text("#launch-finished-runs", "cancelled", timeout=20)
    assert not duo.find_elements("[id='{\"run\":1,\"type\":\"cancel-run\"}']")  # no Cancel on a finished run
    (run,) = _runs(db_url)
    assert run.status == "cancelled"
    assert 1 <= run.epochs_done < 5000
    assert duo.get_logs() == []


def test_invalid_learning_rate_is_refused_and_nothing_starts(start_app, db_url):
    duo = start_app()
    fill(duo, "lr", 0)
    duo.wait_for_contains_text("#launch-message", "learning rate must be > 0", timeout=10)
    duo.find_element("#launch-start").click()
    duo.wait_for_contains_text("#launch-message", "Nothing was started", timeout=10)
    assert "lr" in duo.find_element("#launch-message").text
    assert _runs(db_url) == []
    assert duo.get_logs() == []


def test_schedule_knobs_appear_with_their_schedule_and_are_validated(start_app, db_url):
    duo = start_app()

    def shown(name):
        return duo.find_element(f'[id=\'{{"name":"{name}","type":"launch-wrap"}}\']').is_displayed()

    assert not shown("step_size") and not shown("gamma") and not shown("warmup_epochs")
    select(duo, "schedule", "step")
    wait_until(duo, lambda: shown("step_size") and shown("gamma"), message="step knobs did not appear")
    assert not shown("warmup_epochs")
    select(duo, "schedule", "warmup")
    wait_until(duo, lambda: shown("warmup_epochs") and not shown("gamma"), message="warm-up knob did not appear")
    fill(duo, "warmup_epochs", 40)
    duo.wait_for_contains_text("#launch-message", "warmup_epochs: the warm-up (40 epochs) must end before", timeout=10)
    duo.find_element("#launch-start").click()
    duo.wait_for_contains_text("#launch-message", "Nothing was started", timeout=10)
    assert _runs(db_url) == []
    assert duo.get_logs() == []
