"""Checkpoints: a run's encoded training state at the end of chosen epochs (engine/checkpoint.py).

The training recorder (jobs/recorder.py) writes them in the transaction that commits their epochs
(`log_epochs_with_checkpoints`, or `finish_run(..., checkpoints=...)` for the last batch), so the
latest checkpoint of a run is always at its last committed epoch. Storage keeps the bytes as they
are: decoding (and refusing what cannot be read) is the engine's job.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select

from .db import dialect_insert, write_tx
from .epoch_log import write_epochs
from .models import Checkpoint


@dataclass(frozen=True)
class CheckpointRecord:
    """One stored checkpoint: its epoch, format version and bytes (`data` is None in listings)."""

    run_id: int
    epoch: int
    version: int
    nbytes: int
    data: bytes | None = None


def write_checkpoints(conn, run_id: int, checkpoints: Iterable[tuple[int, int, bytes]],
                      drop: Iterable[int] = ()) -> None:
    """Inside the caller's write transaction: store [(epoch, version, data)] (replacing one at the same
    epoch) and delete the run's checkpoints at the epochs in `drop` (a latest one no longer needed)."""
    rows = [{"run_id": run_id, "epoch": int(e), "version": int(v), "nbytes": len(d), "data": bytes(d)}
            for e, v, d in checkpoints]
    drop = [int(e) for e in drop if int(e) not in {r["epoch"] for r in rows}]
    if drop:
        conn.execute(delete(Checkpoint).where(Checkpoint.run_id == run_id, Checkpoint.epoch.in_(drop)))
    if rows:
        ins = dialect_insert(conn, Checkpoint.__table__)
        conn.execute(ins.on_conflict_do_update(index_elements=["run_id", "epoch"], set_={
            "version": ins.excluded.version, "nbytes": ins.excluded.nbytes, "data": ins.excluded.data}), rows)


def log_epochs_with_checkpoints(engine: Engine, run_id: int, epochs: list[tuple[int, Mapping[str, float]]],
                                checkpoints: Iterable[tuple[int, int, bytes]] = (), drop: Iterable[int] = ()) -> bool:
    """storage.epoch_log.log_epochs plus checkpoints, in one transaction; returns whether Cancel was requested."""
    with write_tx(engine) as conn:
        cancel = write_epochs(conn, int(run_id), list(epochs)) if epochs else False
        write_checkpoints(conn, int(run_id), checkpoints, drop)
        return cancel


def list_checkpoints(engine: Engine, run_id: int) -> list[CheckpointRecord]:
    """The run's checkpoints without their bytes, by epoch."""
    c = Checkpoint
    with engine.connect() as conn:
        rows = conn.execute(select(c.epoch, c.version, c.nbytes).where(c.run_id == run_id).order_by(c.epoch)).all()
    return [CheckpointRecord(run_id, r.epoch, r.version, r.nbytes) for r in rows]


def read_checkpoint(engine: Engine, run_id: int, at_or_before: int | None = None) -> CheckpointRecord | None:
    """The run's latest checkpoint (at or before epoch `at_or_before` when given), with its bytes; None if none."""
    c = Checkpoint
    stmt = select(c.epoch, c.version, c.nbytes, c.data).where(c.run_id == run_id)
    if at_or_before is not None:
        stmt = stmt.where(c.epoch <= int(at_or_before))
    with engine.connect() as conn:
        row = conn.execute(stmt.order_by(c.epoch.desc()).limit(1)).first()
    return None if row is None else CheckpointRecord(run_id, row.epoch, row.version, row.nbytes, bytes(row.data))


def checkpoint_bytes(engine: Engine, run_ids: Iterable[int] | None = None) -> int:
    """Total checkpoint bytes stored (for the given runs, or all)."""
    stmt = select(func.coalesce(func.sum(Checkpoint.nbytes), 0))
    if run_ids is not None:
        stmt = stmt.where(Checkpoint.run_id.in_([int(i) for i in run_ids]))
    with engine.connect() as conn:
        return int(conn.scalar(stmt))
