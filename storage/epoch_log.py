"""Writing a run's epochs: metric points, summary rows and the run's progress, a batch per transaction.

`log_epochs(engine, run_id, epochs)` writes any number of epochs of one run in one transaction:
1. UPDATE the run (heartbeat, epochs_done, diverged) RETURNING cancel_requested and status, so the
   Cancel check rides on the write; a run that already has a final status loses its packed series
   (series.py), which this point makes stale;
2. one multi-row upsert of the metric points;
3. one upsert of the summary rows (one per key), merged in SQL with what is stored: last = highest
   step, best = min for '...loss' keys, else max, finite values only.
The statements are built once per dialect and run as executemany, so SQLAlchemy compiles each once.
The training recorder (jobs/recorder.py) calls it with the epochs it gathered since its last commit.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from sqlalchemy import Boolean, Integer, and_, bindparam, case, delete, func, or_, update

from .db import RunNotFound, dialect_insert, write_tx
from .models import FINAL_STATUSES, Metric, MetricSeries, MetricSummary, Run, UTCDateTime, utcnow
from .values import encode_metric, lower_is_better

def _points(epochs: Iterable[tuple[int, Mapping[str, float]]]) -> list[dict]:
    rows = []
    for step, metrics in epochs:
        for key, raw in metrics.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"metric keys must be non-empty strings, got {key!r}")
            value, flag = encode_metric(raw)
            rows.append({"key": key, "step": int(step), "value": value, "flag": flag})
    return rows


def _summaries(run_id: int, points: list[dict]) -> list[dict]:
    """One summary row per key from this batch's points (last, best, non-finite count)."""
    out: dict[str, dict] = {}
    for p in points:
        key, value, step = p["key"], p["value"], p["step"]
        row = out.get(key)
        if row is None:
            row = out[key] = {"run_id": run_id, "key": key, "last_value": value, "last_step": step,
                              "last_flag": p["flag"], "best_value": None, "best_step": None, "nonfinite_count": 0}
        elif step >= row["last_step"]:
            row.update(last_value=value, last_step=step, last_flag=p["flag"])
        if p["flag"]:
            row["nonfinite_count"] += 1
        elif row["best_value"] is None or (value < row["best_value"] if lower_is_better(key)
                                           else value > row["best_value"]):
            row.update(best_value=value, best_step=step)
    return list(out.values())


@functools.lru_cache(maxsize=None)
def _statements(dialect_name: str) -> dict:
    """The three statements of an epoch batch for one dialect, built once (their compiled form is
    then cached by SQLAlchemy)."""
    step = bindparam("step", type_=Integer)
    run_update = (update(Run).where(Run.id == bindparam("run_id", type_=Integer))
                  .values(heartbeat_at=bindparam("now", type_=UTCDateTime),
                          epochs_done=case((Run.epochs_done < step, step), else_=Run.epochs_done),
                          diverged=or_(Run.diverged, bindparam("diverged", type_=Boolean)))
                  .returning(Run.cancel_requested, Run.status))
    points = dialect_insert(dialect_name, Metric.__table__)
    points = points.on_conflict_do_update(index_elements=["run_id", "key", "step"],
                                          set_={"value": points.excluded.value, "flag": points.excluded.flag})
    table = MetricSummary.__table__
    ins = dialect_insert(dialect_name, table)
    new, old = ins.excluded, table.c
    newer = new.last_step >= old.last_step
    improves = case((func.lower(new.key).like("%loss"), new.best_value < old.best_value),
                    else_=new.best_value > old.best_value)
    better = and_(new.best_value.is_not(None), or_(old.best_value.is_(None), improves))
    summary = ins.on_conflict_do_update(index_elements=["run_id", "key"], set_={
        "last_value": case((newer, new.last_value), else_=old.last_value),
        "last_step": case((newer, new.last_step), else_=old.last_step),
        "last_flag": case((newer, new.last_flag), else_=old.last_flag),
        "best_value": case((better, new.best_value), else_=old.best_value),
        "best_step": case((better, new.best_step), else_=old.best_step),
        "nonfinite_count": old.nonfinite_count + new.nonfinite_count,
    })
    return {"run": run_update, "points": points, "summary": summary}


def log_epochs(engine, run_id: int, epochs: Iterable[tuple[int, Mapping[str, float]]]) -> bool:
    """Record epochs [(step, {key: value})] of one run in one transaction; returns whether Cancel was
    requested for the run. Raises RunNotFound for an unknown run (and writes nothing)."""
    epochs = list(epochs)
    if not epochs:
        return False
    with write_tx(engine) as conn:
        return write_epochs(conn, int(run_id), epochs)


def write_epochs(conn, run_id: int, epochs: list[tuple[int, Mapping[str, float]]]) -> bool:
    """log_epochs inside the caller's write transaction `conn`."""
    points = _points(epochs)
    stmt = _statements(conn.dialect.name)
    row = conn.execute(stmt["run"], {"run_id": run_id, "now": utcnow(), "step": max(s for s, _ in epochs),
                                     "diverged": any(p["flag"] for p in points)}).first()
    if row is None:
        raise RunNotFound(run_id)
    if row.status in FINAL_STATUSES:  # rare: a run marked crashed whose process lived on
        conn.execute(delete(MetricSeries).where(MetricSeries.run_id == run_id))
    latest = {(p["key"], p["step"]): p for p in points}  # a step logged twice: the last wins
    conn.execute(stmt["points"], [{"run_id": run_id, **p} for p in latest.values()])
    conn.execute(stmt["summary"], _summaries(run_id, points))
    return bool(row.cancel_requested)


def log_epoch(engine, run_id: int, step: int, metrics: Mapping[str, float]) -> bool:
    """Record one epoch in one transaction (see log_epochs); returns whether Cancel was requested."""
    return log_epochs(engine, run_id, [(step, metrics)])
