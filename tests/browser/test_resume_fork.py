"""Run page in a real browser: Resume a cancelled run; "Fork from here" at an epoch clicked on the curves, with
knobs changed in the launch form (fork mode); both train to the end on the warm workers."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from jobs.run import run_experiment

from .conftest import fill, store, wait_until

pytestmark = pytest.mark.browser
SPEC = {"dataset": "digits", "hidden": "16", "epochs": 4, "snapshots": False}


def test_resume_a_cancelled_run_from_the_run_page(start_app, db_url, monkeypatch):
    from storage.db import write_tx
    from storage.models import Run

    monkeypatch.setattr("jobs.recorder.CHECKPOINT_AFTER_S", 60.0)  # whatever the load: no checkpoint
    reads, db = store(db_url)
    run_id = run_experiment(SPEC, db_url).run_id
    with write_tx(db) as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(status="cancelled"))
    duo = start_app()
    duo.wait_for_page(url=f"{duo.server_url}/run/{run_id}")
    wait_until(duo, lambda: duo.find_element("#run-resume").is_displayed(), timeout=15)
    duo.find_element("#run-resume").click()
    # a run shorter than CHECKPOINT_AFTER_S has no checkpoint, so it starts over
    duo.wait_for_contains_text("#run-lineage-message", "starts over", timeout=15)
    wait_until(duo, lambda: reads.get_run(db, run_id).status == "completed", timeout=60)
    assert duo.get_logs() == []


def _field(duo, name):
    return duo.find_element(f'[id=\'{{"name":"{name}","type":"launch-field"}}\']')


def _disabled(el) -> bool:
    """A disabled button, or a link-button (dbc renders a Button with an href as <a>) marked disabled."""
    return el.get_attribute("disabled") is not None or "disabled" in el.get_attribute("class").split()


def _click_curve_point(duo, epoch: int) -> None:
    """Hover, then click, the train-loss point of `epoch` on the Run page's curves (a real mouse click)."""
    from selenium.webdriver.common.action_chains import ActionChains

    x, y = duo.driver.execute_script("""
        const gd = document.querySelector('#run-curves .js-plotly-plot');
        const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, trace = gd._fullData[0];
        const i = trace.x.indexOf(arguments[0]), box = gd.getBoundingClientRect();
        return [box.left + xa._offset + xa.d2p(trace.x[i]), box.top + ya._offset + ya.d2p(trace.y[i])];
    """, epoch)
    actions = ActionChains(duo.driver)
    actions.w3c_actions.pointer_action.move_to_location(int(x), int(y))
    actions.perform()
    wait_until(duo, lambda: duo.find_elements("#run-curves .hoverlayer .hovertext"), 10, "no hover on the point")
    actions = ActionChains(duo.driver)
    actions.w3c_actions.pointer_action.move_to_location(int(x), int(y)).click()
    actions.perform()


def test_fork_from_here_changes_knobs_in_the_launch_form_and_trains_the_fork(start_app, db_url):
    reads, db = store(db_url)
    parent = run_experiment(SPEC, db_url).run_id
    duo = start_app()

    # a normal launch form, saved in the browser: the fork must neither show it nor overwrite it
    fill(duo, "lr", 0.0042)
    wait_until(duo, lambda: "0.0042" in (duo.driver.execute_script(
        "return window.localStorage.getItem('launch-form-saved')") or ""), 10, "the form was not saved")

    duo.wait_for_page(url=f"{duo.server_url}/run/{parent}")
    duo.wait_for_element("#run-curves .scatterlayer .point", timeout=15)
    assert _disabled(duo.find_element("#run-fork"))  # no epoch picked yet
    _click_curve_point(duo, 2)
    wait_until(duo, lambda: duo.find_element("#run-fork-epoch").get_attribute("value") == "2", 10)
    wait_until(duo, lambda: not _disabled(duo.find_element("#run-fork")), 10)
    duo.find_element("#run-fork").click()

    duo.wait_for_contains_text("#launch-fork-banner", f"Forking run #{parent} at epoch 2", timeout=15)
    duo.wait_for_text_to_equal("#launch-start", "Start fork")
    assert _field(duo, "lr").get_attribute("value") == "0.001"  # the parent's, not the saved form's
    for locked in ("hidden", "dataset", "activation"):  # architecture and data: shown, not editable
        assert _disabled(_field(duo, locked)), locked
    assert _field(duo, "hidden").get_attribute("value") == "16"
    assert _disabled(duo.find_element("#launch-sweep-on"))

    # refused inline, like `nnlab fork`: nothing queued
    fill(duo, "epochs", 2)
    duo.wait_for_contains_text("#launch-message", "Changed: epochs 4 → 2", timeout=10)
    duo.find_element("#launch-start").click()
    duo.wait_for_contains_text("#launch-message", "Refused — epochs: the fork must train past epoch 2", timeout=10)
    assert reads.count_runs(db) == 1

    fill(duo, "epochs", 6)
    fill(duo, "lr", 0.01)
    duo.wait_for_contains_text("#launch-message", "Changed: lr 0.001 → 0.01; epochs 4 → 6", timeout=10)
    duo.find_element("#launch-start").click()
    duo.wait_for_contains_text("#launch-message", f"of run #{parent} at epoch 2", timeout=10)
    fork_id = reads.list_runs(db, limit=1)[0].id
    assert fork_id != parent
    duo.find_element(f"#launch-message a[href='/run/{fork_id}']").click()
    duo.wait_for_contains_text("#run-lineage", f"forked from #{parent} at epoch 2", timeout=15)
    wait_until(duo, lambda: reads.get_run(db, fork_id).status == "completed", timeout=60)

    fork = reads.get_run(db, fork_id)
    assert (fork.parent_run_id, fork.fork_epoch, fork.epochs_done) == (parent, 2, 6)
    assert (fork.spec["lr"], fork.spec["epochs"], fork.spec["hidden"]) == (0.01, 6, [16])
    keys = ["train_loss", "val_loss", "val_accuracy"]
    mine, theirs = reads.get_metric_history(db, fork_id, keys), reads.get_metric_history(db, parent, keys)
    assert all(mine[k][:2] == theirs[k][:2] and len(mine[k]) == 6 for k in keys)

    # the fork mode lives in the URL: a reload keeps it, the way out restores the saved normal form
    duo.wait_for_page(url=f"{duo.server_url}/?fork={parent}&at=2")
    duo.wait_for_text_to_equal("#launch-start", "Start fork")
    assert _field(duo, "lr").get_attribute("value") == "0.001"
    duo.find_element("#launch-fork-leave").click()
    duo.wait_for_text_to_equal("h4", "Launch a run")
    wait_until(duo, lambda: _field(duo, "lr").get_attribute("value") == "0.0042", 10, "the saved form is gone")
    assert duo.find_element("#launch-start").text == "Start" and not duo.find_elements("#launch-fork-banner")
    assert not _disabled(_field(duo, "hidden"))
    duo.driver.refresh()
    wait_until(duo, lambda: _field(duo, "lr").get_attribute("value") == "0.0042", 10, "the saved form is gone")
    assert duo.find_element("#launch-start").text == "Start"
    assert duo.get_logs() == []


def test_a_run_of_another_engine_version_is_resumed_and_forked_anyway_once_the_box_is_ticked(start_app, db_url):
    """What `--force` does on the command line: refused first (naming both versions), then done."""
    from storage.db import write_tx
    from storage.models import Run

    reads, db = store(db_url)
    run_id = run_experiment(SPEC, db_url).run_id
    with write_tx(db) as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(status="cancelled", engine_version="0.0.1"))
    duo = start_app()
    duo.wait_for_page(url=f"{duo.server_url}/?fork={run_id}&at=2")
    duo.wait_for_contains_text("label[for='launch-fork-force']", "trained by engine 0.0.1", timeout=15)
    fill(duo, "epochs", 6)
    duo.find_element("#launch-start").click()
    duo.wait_for_contains_text("#launch-message", "engine 0.0.1", timeout=10)
    assert [r.id for r in reads.list_runs(db, limit=None)] == [run_id]  # refused: nothing queued
    duo.find_element("#launch-fork-force").click()
    duo.find_element("#launch-start").click()
    duo.wait_for_contains_text("#launch-message", "Started fork", timeout=10)
    fork_id = reads.list_runs(db, limit=1)[0].id
    wait_until(duo, lambda: reads.get_run(db, fork_id).status == "completed", timeout=60)
    assert reads.get_run(db, fork_id).parent_run_id == run_id

    duo.wait_for_page(url=f"{duo.server_url}/run/{run_id}")
    wait_until(duo, lambda: duo.find_element("#run-resume-force").is_displayed(), timeout=15)
    duo.find_element("#run-resume").click()
    duo.wait_for_contains_text("#run-lineage-message", "engine 0.0.1", timeout=10)
    assert reads.get_run(db, run_id).status == "cancelled"
    duo.find_element("#run-resume-force").click()
    duo.find_element("#run-resume").click()
    duo.wait_for_contains_text("#run-lineage-message", f"Run #{run_id}", timeout=10)
    wait_until(duo, lambda: reads.get_run(db, run_id).status == "completed", timeout=60)
    assert duo.get_logs() == []
