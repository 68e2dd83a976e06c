"""Backfill packed series for runs that ended before 0004, so their histories read a few rows too.

A data migration: for every run with a final status and no metric_series rows, pack its metrics rows
as storage/series.py does (steps as little-endian int32, values as float64 with NaN and +-inf
restored from their flags). Runs with a step beyond int32 stay unpacked (readers fall back to the
metrics table, as for a running run). It runs once, inside the upgrade's transaction: 1-3 s per 1,000
runs of 100 epochs x 8 metrics (it says so on stderr when there are 1,000 or more).

Revision ID: 0005_backfill_series
Revises: 0004_metric_series
Create Date: 2026-11-25
"""

import math
import sys

import numpy as np
import sqlalchemy as sa
from alembic import op

revision = "0005_backfill_series"
down_revision = "0004_metric_series"
branch_labels = None
depends_on = None

_FINAL = ("completed", "cancelled", "failed", "crashed")
_RESTORE = {1: math.nan, 2: math.inf, 3: -math.inf}  # the flags of non-finite values
_INT32 = np.iinfo(np.int32)
_BATCH = 200  # runs read per query


def _packed_rows(rows) -> list[dict]:
    """metric_series rows from (run_id, key, step, value or 0, flag) rows ordered by run, key, step."""
    if not rows:
        return []
    run_ids, keys, steps, values, flags = (np.array(col) for col in zip(*rows))
    values = values.astype("<f8")
    for flag, value in _RESTORE.items():
        values[flags == flag] = value
    cuts = np.flatnonzero((run_ids[1:] != run_ids[:-1]) | (keys[1:] != keys[:-1])) + 1
    bounds = np.concatenate(([0], cuts, [len(rows)]))
    out, too_big = [], set(run_ids[(steps < _INT32.min) | (steps > _INT32.max)].tolist())
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        run_id = int(run_ids[a])
        if run_id not in too_big:  # all keys or none: such a run keeps reading from the metrics table
            out.append({"run_id": run_id, "key": str(keys[a]), "n": b - a,
                        "steps": steps[a:b].astype("<i4").tobytes(), "vals": values[a:b].tobytes()})
    return out


def upgrade() -> None:
    conn = op.get_bind()
    runs, metrics = sa.table("runs", sa.column("id"), sa.column("status")), sa.table(
        "metrics", sa.column("run_id"), sa.column("key"), sa.column("step"), sa.column("value"), sa.column("flag"))
    series = sa.table("metric_series", sa.column("run_id"), sa.column("key"), sa.column("n"), sa.column("steps"),
                      sa.column("vals"))
    packed = sa.select(series.c.run_id).where(series.c.run_id == runs.c.id).exists()
    ids = conn.execute(sa.select(runs.c.id).where(runs.c.status.in_(_FINAL), ~packed).order_by(runs.c.id)).scalars().all()
    m = metrics.c
    if len(ids) >= 1000:
        print(f"NN Lab: packing the series of {len(ids):,} finished runs, once (about 2-3 s per 1,000 runs)...",
              file=sys.stderr, flush=True)
    for first in range(0, len(ids), _BATCH):
        result = conn.execute(sa.select(m.run_id, m.key, m.step, sa.func.coalesce(m.value, 0.0), m.flag)
                              .where(m.run_id.in_(ids[first:first + _BATCH]))
                              .order_by(m.run_id, m.key, m.step))
        try:
            rows = result.cursor.fetchall()  # the driver's tuples: Row objects would double the time
        finally:
            result.close()
        new = _packed_rows(rows)
        if new:
            conn.execute(series.insert(), new)


def downgrade() -> None:
    pass  # the packed rows are a cache of the metrics table: 0004's downgrade drops them with the table
