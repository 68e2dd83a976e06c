"""Run page in a real browser: Resume a cancelled run, fork a run at an epoch with a knob changed; both
train to the end on the warm workers; the Runs grid links the fork to its parent."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from jobs.run import run_experiment

from .conftest import wait_until

pytestmark = pytest.mark.browser
SPEC = {"dataset": "digits", "hidden": "16", "epochs": 4, "snapshots": False}


def test_resume_and_fork_from_the_run_page(start_app, db_url):
    from storage import reads
    from storage.db import open_db, write_tx
    from storage.models import Run

    db = open_db(db_url)
    run_id = run_experiment(SPEC, db_url).run_id
    with write_tx(db) as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(status="cancelled"))
    duo = start_app()
    duo.wait_for_page(url=f"{duo.server_url}/run/{run_id}")
    wait_until(duo, lambda: duo.find_element("#run-resume").is_displayed(), timeout=15)
    duo.find_element("#run-resume").click()
    duo.wait_for_contains_text("#run-lineage-message", "resumes from its checkpoint at epoch 4", timeout=15)
    wait_until(duo, lambda: reads.get_run(db, run_id).status == "completed", timeout=60)

    duo.find_element("#run-fork-epoch").find_element("xpath", "ancestor::details/summary").click()
    duo.find_element("#run-fork-epoch").send_keys("2")
    duo.find_element("#run-fork-set").send_keys("lr=0.01")
    duo.find_element("#run-fork").click()
    duo.wait_for_contains_text("#run-lineage-message", f"a fork of #{run_id} at epoch 2", timeout=15)
    fork = reads.list_runs(db, limit=1)[0]
    wait_until(duo, lambda: reads.get_run(db, fork.id).status == "completed", timeout=60)
    duo.wait_for_page(url=f"{duo.server_url}/run/{fork.id}")
    duo.wait_for_contains_text("#run-lineage", f"forked from #{run_id} at epoch 2", timeout=15)
    assert duo.get_logs() == []
