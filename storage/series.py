"""Packed series: a finished run's metrics as one row per key (steps and values as little-endian arrays).

Written in the transaction that gives a run its final status (finish_run, mark_crashed_runs), built
from that run's rows in the metrics table, which stays the source of truth. A point logged after that
(a run marked crashed whose process was still alive) deletes the run's packed rows (epoch_log.py),
and the next final status packs them again. A run either has a packed row for every key it logged
or none, so readers fall back to the metrics table for the runs with none.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import numpy as np
from sqlalchemy import delete, select

from .models import Metric, MetricSeries
from .values import decode_metric

STEP_DTYPE, VALUE_DTYPE = np.dtype("<i4"), np.dtype("<f8")
_INT32 = np.iinfo(np.int32)


def pack_run_series(conn, run_id: int) -> int:
    """Replace the run's packed series with fresh ones built from its metrics rows; returns how many."""
    m = Metric.__table__.c
    conn.execute(delete(MetricSeries).where(MetricSeries.run_id == run_id))
    rows = conn.execute(select(m.key, m.step, m.value, m.flag).where(m.run_id == run_id)
                        .order_by(m.key, m.step)).all()
    if not rows:
        return 0
    steps = np.array([r[1] for r in rows], dtype=np.int64)
    if steps.min() < _INT32.min or steps.max() > _INT32.max:
        return 0  # a step int32 cannot hold: this run reads from the metrics table
    vals = np.array([v if f == 0 and v is not None else decode_metric(v, f) for _, _, v, f in rows],
                    dtype=VALUE_DTYPE)
    keys = [r[0] for r in rows]
    starts = [0] + [i for i in range(1, len(keys)) if keys[i] != keys[i - 1]] + [len(keys)]
    series = [{"run_id": run_id, "key": keys[a], **pack(steps[a:b], vals[a:b])}
              for a, b in pairwise(starts)]
    conn.execute(MetricSeries.__table__.insert(), series)
    return len(series)


def pack(steps, values) -> dict:
    """The n, steps and vals columns of a metric_series row for one series (steps ascending)."""
    return {"n": len(steps), "steps": np.asarray(steps, dtype=STEP_DTYPE).tobytes(),
            "vals": np.asarray(values, dtype=VALUE_DTYPE).tobytes()}


def unpack(n: int, steps: bytes, vals: bytes) -> list[tuple[int, float]]:
    """[(step, value), ...] from a packed row, as the Python ints and floats the metrics table gives."""
    s = np.frombuffer(steps, dtype=STEP_DTYPE, count=n)
    v = np.frombuffer(vals, dtype=VALUE_DTYPE, count=n)
    return list(zip(s.tolist(), v.tolist()))


def read_packed(conn, ids: Sequence[int], keys: Sequence[str] | None, out: dict) -> set[int]:
    """Fill out[run_id][key] from the packed series of the given runs (one query, ordered by run and key);
    returns the ids of the runs that had any (the others must be read from the metrics table)."""
    c = MetricSeries.__table__.c
    stmt = select(c.run_id, c.key, c.n, c.steps, c.vals).where(c.run_id.in_(ids)).order_by(c.run_id, c.key)
    if keys is not None:
        stmt = stmt.where(c.key.in_(keys))
    result = conn.execute(stmt)
    try:
        rows = result.cursor.fetchall()  # raw DBAPI rows: bytes (SQLite) or bytes/memoryview (PostgreSQL)
    finally:
        result.close()
    for run_id, key, n, steps, vals in rows:
        out[run_id][key] = unpack(n, steps, vals)
    return {r[0] for r in rows}
