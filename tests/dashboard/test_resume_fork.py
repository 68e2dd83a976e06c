"""Run page Resume and "Fork from here", the fork marker on Compare curves and the Runs grid's parent
column (presenters and figure builders; no browser)."""

from __future__ import annotations

from sqlalchemy import update

from callbacks.compare import build_comparison
from callbacks.resume_fork import fork_run, lineage_text, resume_run
from callbacks.runs import column_defs, run_row
from dashboard.figures.curves import compare_curves_figure
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


def test_resume_queues_a_stopped_run_and_refuses_a_completed_one(db_url):
    db = open_db(db_url)
    run_id = run_experiment(SPEC, db_url).run_id
    message, queued = resume_run(db, run_id)
    assert not queued and "--epochs" in _text(message)
    with write_tx(db) as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(status="cancelled"))
    message, queued = resume_run(db, run_id)
    assert queued and "epoch 4" in _text(message)
    assert reads.get_run(db, run_id).status == "queued"


def test_fork_from_here_queues_a_fork_and_names_a_refused_knob(db_url):
    db = open_db(db_url)
    parent = run_experiment(SPEC, db_url).run_id
    message, queued = fork_run(db, parent, None, "")
    assert not queued and "click" in _text(message)
    message, queued = fork_run(db, parent, 2, "hidden=8")
    assert not queued and _text(message).startswith("hidden:")
    message, queued = fork_run(db, parent, 2, "lr=0.01\n\nepochs=6")
    assert queued
    fork = reads.list_runs(db, limit=1)[0]
    assert (fork.parent_run_id, fork.fork_epoch, fork.params["lr"], fork.epochs_planned) == (parent, 2, 0.01, 6)
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
