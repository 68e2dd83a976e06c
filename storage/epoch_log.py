"""EpochWriter: a run's epochs, each written in one transaction. The hot path of training.

One epoch is one transaction of three to five statements, compiled once per dialect by SQLAlchemy
and run on the DBAPI cursor (prepared.py):
1. UPDATE the run (heartbeat, epochs_done, diverged) RETURNING cancel_requested and status: the Cancel
   check rides on the write, so noticing Cancel costs no second query; a run that already has a final
   status loses its packed series (series.py), which this point makes stale;
2. one multi-row upsert of the metric points;
3. the summary rows. The first time the writer sees a key it merges with whatever metric_summary
   already holds (an upsert that keeps last = highest step and best = min for '...loss', else max,
   finite values only) and remembers the merged row it returns. After that the writer knows last and
   best, so a summary row is a plain UPDATE by primary key, and the best columns (and their index)
   are written only when the best improves (a second UPDATE, executed for those keys only).

A writer assumes it is the only one logging its run while it lives (the recorder of that run is);
`log_epoch` uses a fresh writer per call, so it merges with the stored rows every time.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Integer, and_, bindparam, case, delete, func, or_, update

from . import prepared
from .db import RunNotFound, dialect_insert, raw_write_tx
from .models import FINAL_STATUSES, Metric, MetricSeries, MetricSummary, Run, UTCDateTime, utcnow
from .values import encode_metric, lower_is_better

MAX_ROWS = 100  # rows per multi-row statement (SQLite allows 32,766 bound values)
_POINT = ("run_id", "key", "step", "value", "flag")
_SUMMARY = ("run_id", "key", "last_value", "last_step", "last_flag", "best_value", "best_step", "nonfinite_count")
_SAMPLE = {"run_id": 0, "key": "", "step": 0, "value": 0.0, "flag": 0, "last_value": 0.0, "last_step": 0,
           "last_flag": 0, "best_value": 0.0, "best_step": 0, "nonfinite_count": 0, "nonfinite": 0, "now": None}


# --- statements (built once per dialect) ------------------------------------------------------------

def _rows_sample(columns, n: int) -> dict:
    return {f"{c}_{i}": _SAMPLE[c] for i in range(n) for c in columns}


def _multi_insert(dialect, table, columns, n: int):
    return dialect_insert(dialect, table).values([{c: bindparam(f"{c}_{i}") for c in columns} for i in range(n)])


def _build_run_update(dialect, diverged: bool):
    step = bindparam("step", type_=Integer)
    values = {"heartbeat_at": bindparam("now", type_=UTCDateTime),
              "epochs_done": case((Run.epochs_done < step, step), else_=Run.epochs_done)}
    if diverged:
        values["diverged"] = True
    return (update(Run).where(Run.id == bindparam("run_id", type_=Integer)).values(**values)
            .returning(Run.cancel_requested, Run.status))


def _build_points_upsert(dialect, n: int):
    ins = _multi_insert(dialect, Metric.__table__, _POINT, n)
    return ins.on_conflict_do_update(index_elements=["run_id", "key", "step"],
                                     set_={"value": ins.excluded.value, "flag": ins.excluded.flag})


def _build_summary_merge(dialect, n: int):
    """Upsert of metric_summary rows merged with the stored ones; returns the merged rows."""
    table = MetricSummary.__table__
    ins = _multi_insert(dialect, table, _SUMMARY, n)
    new, old = ins.excluded, table.c
    newer = new.last_step >= old.last_step
    improves = case((func.lower(new.key).like("%loss"), new.best_value < old.best_value),
                    else_=new.best_value > old.best_value)
    better = and_(new.best_value.is_not(None), or_(old.best_value.is_(None), improves))
    return ins.on_conflict_do_update(index_elements=["run_id", "key"], set_={
        "last_value": case((newer, new.last_value), else_=old.last_value),
        "last_step": case((newer, new.last_step), else_=old.last_step),
        "last_flag": case((newer, new.last_flag), else_=old.last_flag),
        "best_value": case((better, new.best_value), else_=old.best_value),
        "best_step": case((better, new.best_step), else_=old.best_step),
        "nonfinite_count": old.nonfinite_count + new.nonfinite_count,
    }).returning(old.key, old.last_value, old.last_step, old.last_flag, old.best_value, old.best_step)


def _build_summary_update(dialect, with_best: bool):
    """UPDATE of one known summary row: last (and best) as the writer computed them, plus the nonfinite count."""
    c = MetricSummary.__table__.c
    values = {"last_value": bindparam("last_value"), "last_step": bindparam("last_step"),
              "last_flag": bindparam("last_flag"), "nonfinite_count": c.nonfinite_count + bindparam("nonfinite")}
    if with_best:
        values.update(best_value=bindparam("best_value"), best_step=bindparam("best_step"))
    return (update(MetricSummary.__table__).values(**values)
            .where(c.run_id == bindparam("run_id"), c.key == bindparam("key")))


def _build_series_delete(dialect, _):
    """Drop a finished run's packed series: a point logged after the end makes them stale."""
    return delete(MetricSeries.__table__).where(MetricSeries.run_id == bindparam("run_id", type_=Integer))


_LAST = ("last_value", "last_step", "last_flag", "nonfinite", "run_id", "key")
_LAST_BEST = ("last_value", "last_step", "last_flag", "best_value", "best_step", "nonfinite", "run_id", "key")


def _sample(names) -> dict:
    return {n: _SAMPLE[n] for n in names}


_KINDS = {  # kind: (builder, sample of the caller's binds), both taking the kind's argument
    "run-update": (_build_run_update, lambda diverged: _sample(("now", "step", "run_id"))),
    "points": (_build_points_upsert, lambda n: _rows_sample(_POINT, n)),
    "summary-merge": (_build_summary_merge, lambda n: _rows_sample(_SUMMARY, n)),
    "summary-update": (_build_summary_update, lambda with_best: _sample(_LAST_BEST if with_best else _LAST)),
    "series-delete": (_build_series_delete, lambda _: _sample(("run_id",))),
}


def _statement(dialect, kind: str, arg) -> prepared.Prepared:
    """Statement `kind` for `arg` (a flag or a row count), compiled once per dialect."""
    build, sample = _KINDS[kind]
    return prepared.prepare(dialect, f"epoch-{kind}-{arg}", lambda d: build(d, arg), lambda: sample(arg))


# --- the writer ----------------------------------------------------------------------------------------

class EpochWriter:
    """Writes the epochs of one run, one transaction each; remembers each metric's last and best."""

    def __init__(self, engine, run_id: int) -> None:
        self.engine, self.run_id = engine, int(run_id)
        self.dialect = engine.dialect
        # key -> ((last_value, last_step, last_flag), (best_value, best_step), lower is better): as stored
        self._summary: dict[str, tuple] = {}

    def write(self, step: int, metrics: Mapping[str, float]) -> bool:
        """Record one epoch (points, summary, heartbeat, epochs_done, diverged) in one transaction;
        returns whether Cancel was requested for the run."""
        step, run_id = int(step), self.run_id
        points = []
        for key, raw in metrics.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"metric keys must be non-empty strings, got {key!r}")
            value, flag = encode_metric(raw)
            points.append((key, value, flag))
        diverged = any(p[2] for p in points)
        run_update = _statement(self.dialect, "run-update", diverged)
        with raw_write_tx(self.engine) as cursor:
            cursor.execute(run_update.sql, run_update.params({"now": utcnow(), "step": step, "run_id": run_id}))
            row = cursor.fetchone()
            if row is None:
                raise RunNotFound(run_id)
            cancel = bool(row[0])
            if row[1] in FINAL_STATUSES:  # rare: a run marked crashed whose process lived on, or a late write
                stmt = _statement(self.dialect, "series-delete", 0)
                cursor.execute(stmt.sql, stmt.params({"run_id": run_id}))
            for first in range(0, len(points), MAX_ROWS):
                chunk = points[first:first + MAX_ROWS]
                stmt = _statement(self.dialect, "points", len(chunk))
                cursor.execute(stmt.sql, stmt.flat([v for key, value, flag in chunk
                                                    for v in (run_id, key, step, value, flag)]))
            remembered = self._write_summary(cursor, step, points)
        self._summary.update(remembered)  # only once committed
        return cancel

    def _write_summary(self, cursor, step: int, points) -> dict[str, tuple]:
        """Summary rows of one epoch; returns the new state of every key written."""
        run_id, known, state = self.run_id, self._summary, {}
        unknown, last_rows, best_rows = [], [], []
        for key, value, flag in points:
            old = known.get(key)
            if old is None:
                unknown.append((key, value, flag))
                continue
            last, best, lower = old
            if step >= last[1]:
                last = (value, step, flag)
            if value is not None and (best[0] is None or (value < best[0] if lower else value > best[0])):
                best = (value, step)
                best_rows.append((*last, *best, int(flag != 0), run_id, key))
            elif last is not old[0] or flag:
                last_rows.append((*last, int(flag != 0), run_id, key))
            state[key] = (last, best, lower)
        for rows, with_best in ((last_rows, False), (best_rows, True)):
            if rows:
                stmt = _statement(self.dialect, "summary-update", with_best)
                cursor.executemany(stmt.sql, [stmt.flat(r) for r in rows])
        for first in range(0, len(unknown), MAX_ROWS):
            chunk = unknown[first:first + MAX_ROWS]
            stmt = _statement(self.dialect, "summary-merge", len(chunk))
            cursor.execute(stmt.sql, stmt.flat([
                v for key, value, flag in chunk
                for v in (run_id, key, value, step, flag, value, step if flag == 0 else None, int(flag != 0))]))
            for key, last_value, last_step, last_flag, best_value, best_step in cursor.fetchall():
                state[key] = ((last_value, last_step, last_flag), (best_value, best_step), lower_is_better(key))
        return state


def log_epoch(engine, run_id: int, step: int, metrics: Mapping[str, float]) -> None:
    """Record one epoch in one transaction: metric rows, summary rows, heartbeat, epochs_done, diverged."""
    EpochWriter(engine, run_id).write(step, metrics)
