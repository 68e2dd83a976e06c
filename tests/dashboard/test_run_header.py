"""The run page's header: what it offers depends on the run's status."""

from __future__ import annotations

import pytest

from callbacks.run import run_header
from dashboard import ids
from jobs.run import run_experiment
from storage import reads
from storage.db import open_db


def _find(component, id_):
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str):
            found = _find(child, id_)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize("status,shown", [("running", True), ("queued", True), ("completed", False),
                                          ("cancelled", False), ("failed", False)])
def test_cancel_is_offered_only_while_there_is_something_to_cancel(tmp_path, status, shown):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    run_experiment({"model": "mlp", "dataset": "xor", "hidden": "4", "epochs": 1, "snapshots": False}, db)
    run = reads.get_run(open_db(db), 1)
    run.status = status
    button = _find(run_header(run), ids.RUN_CANCEL)
    assert button is not None  # its callback needs it in the layout either way
    assert (button.style is None) is shown and button.disabled is not shown


def test_the_header_keeps_tenths_of_a_second_for_a_short_run():
    from dashboard.components.progress import format_duration

    assert [format_duration(v) for v in (None, 0.04, 0.4, 9.94, 9.96, 65, 7500)] == \
        ["-", "0.0s", "0.4s", "9.9s", "10s", "1m05s", "2h05m"]
