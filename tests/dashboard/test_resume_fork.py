"""Run page Resume and "Fork from here", the launch form in fork mode, the fork marker on Compare curves and
the Runs grid's parent column (presenters and figure builders; no browser)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from callbacks.compare import build_comparison
from callbacks.launch import form_values
from callbacks.launch_fork import LOCKED, changes_text, fork_target, form_changes, parent_form
from callbacks.resume_fork import fork_href, lineage_text, resume_run
from callbacks.runs import column_defs, run_row
from dashboard.figures.curves import compare_curves_figure
from engine.spec import SpecError
from jobs.lineage import Refused, prepare_fork
from jobs.run import run_experiment
from storage import reads
from storage.db import open_db, write_tx
from storage.models import Run

SPEC = {"dataset": "digits", "hidden": "16", "epochs": 4, "snapshots": False}


def _text(component) -> str:
    children = getattr(component, "children", component)
    if isinstance(children, list):
        return "".join(_text(c) for c in children)
    return children if isinstance(children, str) else _text(children) if children is not None else ""


def test_resume_queues_a_stopped_run_and_refuses_a_completed_one(db_url, monkeypatch):
    monkeypatch.setattr("jobs.recorder.CHECKPOINT_AFTER_S", 0.0)  # checkpoints from the first epoch, as long runs
    db = open_db(db_url)
    run_id = run_experiment(SPEC, db_url).run_id
    message, queued = resume_run(db, run_id)
    assert not queued and "--epochs" in _text(message)
    with write_tx(db) as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(status="cancelled"))
    message, queued = resume_run(db, run_id)
    assert queued and "epoch 4" in _text(message)
    assert reads.get_run(db, run_id).status == "queued"


def test_fork_from_here_links_to_the_launch_form_once_an_epoch_is_picked():
    assert fork_href(5, None) is None and fork_href(None, 3) is None
    assert fork_href(5, 3) == "/?fork=5&at=3"


def test_the_fork_form_holds_the_parents_settings_and_passes_on_only_what_a_fork_may_change(db_url):
    db = open_db(db_url)
    parent = run_experiment(SPEC, db_url).run_id
    for missing in ("99", "1" * 30, "-1"):
        with pytest.raises(Refused, match=f"no run {missing}"):
            fork_target(db, missing, "2")
    with pytest.raises(Refused, match="pick one on its curves"):
        fork_target(db, str(parent), None)
    target = fork_target(db, str(parent), "2")
    family, values = parent_form(target["spec"])
    assert (family, values["dataset"], values["hidden"], values["epochs"], values["name"]) == ("mlp", "digits", "16",
                                                                                                 4, "")
    assert {"model", "dataset", "hidden", "activation", "n_samples"} <= set(LOCKED)
    assert not {"lr", "optimizer", "dropout", "epochs", "batch_size"} & set(LOCKED)

    names = list(values)
    unchanged = form_changes(form_values(family, names, list(values.values())))
    assert changes_text(target["spec"], unchanged).startswith("Nothing changed")
    edited = {**values, "lr": 0.01, "epochs": 6, "hidden": "8", "dataset": "xor"}  # the last two are locked
    changes = form_changes(form_values(family, names, [edited[n] for n in names]))
    assert not {"hidden", "dataset"} & set(changes)
    assert changes_text(target["spec"], changes) == "Changed: lr 0.001 → 0.01; epochs 4 → 6"
    with pytest.raises(SpecError, match="lr"):
        changes_text(target["spec"], {**changes, "lr": -1})

    fork_id = prepare_fork(db, parent, 2, changes)
    fork = reads.get_run(db, fork_id)
    assert (fork.parent_run_id, fork.fork_epoch, fork.params["lr"], fork.epochs_planned) == (parent, 2, 0.01, 6)
    assert fork.spec["hidden"] == [16] and fork.spec["dataset"] == "digits"
    assert "#" + str(parent) in _text(lineage_text(db, fork.id))
    row = run_row(fork)
    assert row["parent"] == f"[{parent}](/run/{parent}) @ 2"
    assert any(d["field"] == "parent" for d in column_defs([]))
    curves = build_comparison(db, [parent, fork.id], metric="loss", splits=["val"])[0]
    markers = [t for t in curves.data if t.mode == "markers"]
    assert len(markers) == 1 and markers[0].x == (2,) and f"#{parent}" in markers[0].hovertext[0]


def test_the_fork_marker_never_raises_on_missing_points():
    fig = compare_curves_figure({1: {"val_loss": [(1, 0.5)]}}, {1: "a"}, "loss", splits=["val"], forks={1: (9, 3)})
    assert fig.data[-1].y == (None,)


def _find(component, id_):
    """The component with id `id_` in a layout tree (None if absent)."""
    if getattr(component, "id", None) == id_:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        found = None if child is None or isinstance(child, str | int | float) else _find(child, id_)
        if found is not None:  # not `if found`: a component without children is falsy
            return found
    return None


def test_the_launch_page_is_a_fork_form_only_for_a_run_that_exists(db_url, tmp_path):
    from dashboard.app import create_app
    from dashboard.ids import FORK_BANNER, FORK_FROM, LAUNCH_FIELD, START
    from dashboard.pages.launch import layout

    parent = run_experiment(SPEC, db_url).run_id
    app = create_app(db_url, cache_dir=str(tmp_path / "cache"))
    with app.server.test_request_context("/"):
        forking = layout(fork=str(parent), at="3")
        missing = layout(fork="99", at="3")
        normal = layout()
    assert _find(forking, START).children == "Start fork"
    assert _find(forking, FORK_FROM).data["at"] == 3 and "at epoch 3" in _text(_find(forking, FORK_BANNER))
    assert _find(forking, {"type": LAUNCH_FIELD, "name": "hidden"}).disabled
    assert not _find(forking, {"type": LAUNCH_FIELD, "name": "lr"}).disabled
    assert _find(missing, START).children == "Start" and _find(missing, FORK_FROM).data is None
    assert "no run 99" in _text(_find(missing, FORK_BANNER))
    assert _find(normal, START).children == "Start" and _find(normal, FORK_BANNER) is None
