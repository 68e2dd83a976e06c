"""Lessons page and Ablate tab presenters, the verdict figure and the event markers."""

from __future__ import annotations

import math

import plotly.graph_objects as go
import pytest

from dashboard.figures.curves import training_curves_figure
from dashboard.figures.lessons import add_event_markers, verdict_figure


@pytest.mark.parametrize("a, b", [({}, {}), ({0: 0.5}, {}), ({0: math.nan, 1: None}, {0: 0.2}),
                                  ({0: 0.5, 1: 0.6, 2: 0.55}, {0: 0.7, 1: 0.72, 2: 0.69})])
def test_the_verdict_figure_never_raises(a, b):
    fig = verdict_figure(a, b, ("base", "changed"), "val_accuracy:best", effect=0.15, ci=(0.1, 0.2),
                         verdict="supported")
    assert isinstance(fig, go.Figure)


def test_the_verdict_figure_shows_each_seed_and_the_mean_difference():
    fig = verdict_figure({0: 0.5, 1: 0.6, 2: 0.55}, {0: 0.7, 1: 0.72, 2: 0.69}, ("A", "B"), "m", effect=0.153,
                         ci=(0.12, 0.2), verdict="supported")
    names = [t.name for t in fig.data]
    assert "A" in names and "B" in names and "mean difference" in names
    diffs = next(t for t in fig.data if t.name == "paired difference")
    assert list(diffs.y) == pytest.approx([0.2, 0.12, 0.14])


def test_event_markers_carry_their_explanation():
    fig = add_event_markers(training_curves_figure({"train_loss": [(1, 1.0), (2, 0.5)], "val_loss": [(1, 1.0), (2, 0.6)]}),
                            [{"epoch": 2, "kind": "plateau", "message": "No better val_loss for 5 epochs"}],
                            subplots=True)
    assert any(getattr(a, "hovertext", None) == "No better val_loss for 5 epochs" for a in fig.layout.annotations)
    assert len(fig.layout.shapes) >= 1


def test_event_labels_close_together_go_on_separate_lines():
    """Two events 2 epochs apart on a 30-epoch axis would print their labels over each other."""
    curves = training_curves_figure({"train_loss": [(e, 1.0 / e) for e in range(1, 31)]})
    events = [{"epoch": e, "kind": k, "message": k} for e, k in [(22, "plateau"), (24, "overfitting"), (29, "plateau")]]
    fig = add_event_markers(curves, events)
    shifts = {a.x: a.yshift or 0 for a in fig.layout.annotations if a.hovertext}
    assert shifts[22] == shifts[29] == 0 and shifts[24] < 0


def test_a_lesson_card_shows_progress_verdict_and_a_grouped_compare_link(db_url):
    from callbacks.lessons import plan_view, stored_plan_data
    from lessons.definitions import get_lesson
    from tests.lessons.in_process import launch_in_process
    from lessons.runner import launch_plan, lesson_plan, wait_for_runs

    lesson = get_lesson("perceptron-xor")
    assert stored_plan_data(db_url, lesson) is None
    launched = launch_plan(lesson_plan(lesson, 3), db_url, launch_in_process)
    wait_for_runs(db_url, launched.run_ids, poll_s=0.1, timeout_s=120)
    data = {"kind": "lesson", "lesson": lesson.name, "seeds": 3, "run_ids": launched.run_ids}
    progress, verdict, fig, href, done = plan_view(db_url, data, None)
    assert done == 6 and "6 of 6 runs finished" in str(progress)
    assert "supported" in str(verdict) and isinstance(fig, go.Figure)
    assert href.startswith("/compare?runs=") and "group=dataset" in href
    assert plan_view(db_url, data, 6)[1] is not None  # unchanged: no_update (not recomputed)


def test_ablate_refuses_bad_values_naming_the_field_and_no_ops(db_url):
    from callbacks.lessons import ablate_knobs, start_ablation
    from jobs.run import run_experiment

    run = run_experiment({"model": "perceptron", "dataset": "and", "epochs": 5, "snapshots": False}, db_url)
    text, ok, data, new = start_ablation(db_url, run.run_id, "lr", "-1", 3, "val_accuracy:best")
    assert not ok and data is None and "lr:" in text and "Nothing was started" in text
    text, ok, *_ = start_ablation(db_url, run.run_id, "dataset", "and", 3, "val_accuracy:best")
    assert not ok and "changes nothing" in text
    text, ok, *_ = start_ablation(db_url, run.run_id, "dataset", "xor", 3, "bogus")
    assert not ok and "metric" in text
    from storage import reads
    from storage.db import open_db

    spec = reads.get_run(open_db(db_url), run.run_id).spec
    assert "lr" in ablate_knobs(spec) and "seed" not in ablate_knobs(spec)


def test_ablate_queues_the_missing_runs_and_reuses_the_original(db_url):
    from callbacks.lessons import start_ablation
    from jobs.run import run_experiment
    from storage import reads
    from storage.db import open_db

    run = run_experiment({"model": "perceptron", "dataset": "and", "epochs": 5, "snapshots": False}, db_url)
    text, ok, data, new = start_ablation(db_url, run.run_id, "dataset", "xor", 2, "val_accuracy:best")
    assert ok and new == 3 and data["run_ids"][0] == run.run_id and "1 reused" in text
    queued = reads.list_runs(open_db(db_url), status="queued", limit=None)
    assert sorted(r.id for r in queued) == sorted(data["run_ids"][1:])


def test_run_events_list_explains_each_event():
    from callbacks.lessons import run_events_list

    assert "No events" in str(run_events_list([]))
    assert "epoch 3 · overfitting" in str(run_events_list([{"epoch": 3, "kind": "overfitting", "message": "m"}]))


def test_compare_curves_carry_the_runs_event_markers(db_url):
    import storage as s
    from callbacks.compare import build_comparison
    from storage.db import open_db
    from storage.events import record_events

    db = open_db(db_url)
    rid = s.create_run(db, {}, {}, status="running", epochs_planned=8)
    train = [1.0, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02]
    val = [1.0, 0.7, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9]
    for epoch, (t, v) in enumerate(zip(train, val), start=1):
        s.log_epoch(db, rid, epoch, {"train_loss": t, "val_loss": v})
    s.finish_run(db, rid, "completed")
    record_events(db, rid)
    curves = build_comparison(db, [rid], metric="loss")[0]
    assert any("overfitting" in (a.text or "") for a in curves.layout.annotations)
    assert any(f"#{rid}: Validation loss was lowest" in (a.hovertext or "") for a in curves.layout.annotations)
