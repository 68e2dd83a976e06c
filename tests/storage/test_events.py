"""Events from stored epochs: divergence, plateau, overfitting onset; stored and queryable by SQL."""

from __future__ import annotations

import math

from storage.events import backfill_events, detect_events, record_events


def _h(**series):
    return {k: list(enumerate(v, start=1)) for k, v in series.items()}


def test_a_nan_loss_is_a_divergence_at_its_epoch():
    ev = detect_events(_h(train_loss=[1.0, 0.8, math.nan], val_loss=[1.1, 0.9, math.nan]), 3)
    assert [(e, k) for e, k, _ in ev] == [(3, "divergence")] and "NaN" in ev[0][2]


def test_a_loss_far_above_its_minimum_is_a_divergence():
    ev = detect_events(_h(train_loss=[2.3, 1.0, 0.6, 5.0, 40.0], val_loss=[2.3, 1.0, 0.7, 5.2, 41.0]), 5)
    assert ev[0][:2] == (4, "divergence")


def test_no_improvement_for_the_patience_is_a_plateau_but_not_once_perfect():
    acc = [0.5, 0.6, 0.7] + [0.7] * 6
    ev = detect_events(_h(val_accuracy=acc, train_loss=[1.0] * 9, val_loss=[1.0] * 9), 9)
    assert [(e, k) for e, k, _ in ev if k == "plateau"] == [(8, "plateau")]
    assert "epoch 3" in ev[0][2]
    perfect = detect_events(_h(val_accuracy=[0.75, 1.0] + [1.0] * 10), 12)
    assert not [e for e in perfect if e[1] == "plateau"]


def test_validation_loss_rising_while_training_loss_falls_is_the_onset_of_overfitting():
    train = [1.0, 0.6, 0.4, 0.3, 0.2, 0.1, 0.05, 0.02]
    val = [1.0, 0.7, 0.55, 0.6, 0.65, 0.7, 0.8, 0.9]
    ev = detect_events(_h(train_loss=train, val_loss=val), 8)
    assert [(e, k) for e, k, _ in ev if k == "overfitting"] == [(3, "overfitting")]
    assert "memorising" in [m for _, k, m in ev if k == "overfitting"][0]


def test_a_healthy_run_has_no_events():
    n = 10
    ev = detect_events(_h(train_loss=[1 / (i + 1) for i in range(n)], val_loss=[1.1 / (i + 1) for i in range(n)],
                          val_accuracy=[0.5 + 0.04 * i for i in range(n)]), n)
    assert ev == []


def test_events_are_stored_at_run_end_and_queryable_by_sql(db_url):
    import storage as s
    from storage.db import open_db
    from storage.events import get_events

    db = open_db(db_url)
    run_id = s.create_run(db, {}, {}, status="running", epochs_planned=3)
    for epoch, (tl, vl) in enumerate([(1.0, 1.0), (0.8, 0.9), (math.nan, math.nan)], start=1):
        s.log_epoch(db, run_id, epoch, {"train_loss": tl, "val_loss": vl})
    s.finish_run(db, run_id, "failed")
    assert backfill_events(db) == 1
    assert [e["kind"] for e in get_events(db, [run_id])[run_id]] == ["divergence"]
    assert record_events(db, run_id) == 1  # safe to repeat: replaces, never duplicates
    from sqlalchemy import text

    with db.connect() as conn:  # plain SQL (the Query page's sandbox refuses a superuser on PostgreSQL)
        rows = conn.execute(text("SELECT epoch, kind FROM events WHERE run_id = :r"), {"r": run_id}).all()
    assert [tuple(r) for r in rows] == [(3, "divergence")]
    if db_url.startswith("sqlite"):
        assert s.run_readonly_query(db_url, f"SELECT epoch, kind FROM events WHERE run_id = {run_id}").rows == \
            [(3, "divergence")]
