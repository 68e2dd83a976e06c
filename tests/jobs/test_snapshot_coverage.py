"""Short runs keep the inside views of every epoch: the snapshot time budget is absolute (0.25 s a run)
as well as relative (5% of the run), so a 0.3 s run no longer loses its views."""

from __future__ import annotations

import pytest

from jobs.run import run_experiment
from storage import reads
from storage.db import open_db
from storage.snapshots import snapshot_index


@pytest.mark.parametrize("spec", [
    {"dataset": "xor", "hidden": "4", "epochs": 3},
    {"dataset": "moons", "epochs": 20},
    {"dataset": "digits", "epochs": 3},
    {"model": "perceptron", "dataset": "and", "epochs": 10},
])
def test_every_epoch_of_a_short_run_has_its_views(db_url, spec):
    result = run_experiment(spec, db_url)
    assert result.status == "completed"
    db = open_db(db_url)
    index = snapshot_index(db, result.run_id)
    recorded = set().union(*(set(v) for k, v in index.items() if k not in ("probe", "note")))
    assert recorded == set(range(spec["epochs"] + 1))
    notes = [k for k in index if k == "note"]
    assert not notes, reads.get_run(db, result.run_id)  # nothing skipped, nothing to explain
