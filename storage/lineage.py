"""Resume and fork in the store: a stopped run goes back to the queue, a fork is queued with its
parent's history up to the fork epoch. The warm workers then train both (jobs/run.py decides where
training starts from: the run's own latest checkpoint, else its parent's at the fork epoch).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from sqlalchemy import Engine, delete, insert, or_, select, update

from .db import RunNotFound, write_tx
from .epoch_log import _summaries
from .models import FINAL_STATUSES, Checkpoint, Metric, MetricSeries, MetricSummary, Param, Run, RunTag, Snapshot, utcnow
from .values import encode_param, to_json

TEST_PREFIX = "test_"  # metrics of the final model on the test split, logged once at the run's end


class RunChanged(RuntimeError):
    """The run's status changed between the caller's check and the write (someone else acted on it)."""


def mark_run_crashed(engine: Engine, run_id: int, reason: str) -> bool:
    """Mark a running run 'crashed' now (its process is known to be gone); False if it was not running."""
    with write_tx(engine) as conn:
        return bool(conn.execute(update(Run).where(Run.id == run_id, Run.status == "running").values(
            status="crashed", ended_at=utcnow(),
            error=f"{reason} Marked crashed by pid {os.getpid()} on {socket.gethostname()}.")).rowcount)


def _rebuild_summary(conn, run_id: int) -> bool:
    """Recompute the run's summary rows from its metric rows; returns whether any value is not finite."""
    conn.execute(delete(MetricSummary).where(MetricSummary.run_id == run_id))
    m = Metric
    rows = conn.execute(select(m.key, m.step, m.value, m.flag).where(m.run_id == run_id).order_by(m.key, m.step)).all()
    points = [{"key": r.key, "step": r.step, "value": r.value, "flag": r.flag} for r in rows]
    if points:
        conn.execute(insert(MetricSummary), _summaries(run_id, points))
    return any(p["flag"] for p in points)


def requeue_run(engine: Engine, run_id: int, *, from_epoch: int, expect_status: str,
                spec: Mapping | None = None, epochs_planned: int | None = None) -> None:
    """Put a stopped run back in the queue to go on from its checkpoint at `from_epoch`, in one transaction:
    its metrics after that epoch and its test metrics, its packed series, and its checkpoints and
    snapshots after that epoch are deleted, its summary is rebuilt from what is left, and its status,
    error, Cancel flag and end time are reset. `spec`/`epochs_planned`: a longer run (--epochs).
    Raises RunChanged if the run's status is no longer `expect_status`."""
    k = int(from_epoch)
    with write_tx(engine) as conn:
        status = conn.scalar(select(Run.status).where(Run.id == run_id))
        if status is None:
            raise RunNotFound(run_id)
        if status != expect_status or status not in FINAL_STATUSES:
            raise RunChanged(f"run {run_id} is now {status}")
        conn.execute(delete(Metric).where(Metric.run_id == run_id,
                                          or_(Metric.step > k, Metric.key.startswith(TEST_PREFIX))))
        conn.execute(delete(MetricSeries).where(MetricSeries.run_id == run_id))
        conn.execute(delete(Checkpoint).where(Checkpoint.run_id == run_id, Checkpoint.epoch > k))
        conn.execute(delete(Snapshot).where(Snapshot.run_id == run_id, Snapshot.epoch > k))
        diverged = _rebuild_summary(conn, run_id)
        values = {"status": "queued", "ended_at": None, "error": None, "cancel_requested": False,
                  "epochs_done": k, "diverged": diverged, "pid": None, "host": "", "heartbeat_at": None}
        if spec is not None:
            values["spec"] = to_json(dict(spec))
        if epochs_planned is not None:
            values["epochs_planned"] = int(epochs_planned)
            _set_param(conn, run_id, "epochs", int(epochs_planned))
        conn.execute(update(Run).where(Run.id == run_id).values(**values))


def _set_param(conn, run_id: int, name: str, value) -> None:
    text, num, kind = encode_param(value)
    conn.execute(update(Param).where(Param.run_id == run_id, Param.name == name)
                 .values(value_text=text, value_num=num, value_type=kind))


def create_fork(engine: Engine, parent_id: int, fork_epoch: int, spec: Mapping, params: Mapping[str, object], *,
                name: str, model: str, dataset: str, seed: int, engine_version: str) -> int:
    """Queue a fork of `parent_id` at `fork_epoch`, in one transaction: a new run in the parent's experiment,
    with its tags, the given spec and params, `parent_run_id`/`fork_epoch`/`threads` set, and the parent's
    metrics of steps 1..fork_epoch (not its test metrics) copied with their summary. Returns its id."""
    k = int(fork_epoch)
    with write_tx(engine) as conn:
        parent = conn.execute(select(Run.experiment_id, Run.threads).where(Run.id == parent_id)).first()
        if parent is None:
            raise RunNotFound(parent_id)
        now = utcnow()
        run_id = conn.execute(insert(Run).values(
            experiment_id=parent.experiment_id, name=name, status="queued", created_at=now, seed=int(seed),
            model=model, dataset=dataset, spec=to_json(dict(spec)), notes="", engine_version=engine_version,
            diverged=False, cancel_requested=False, epochs_planned=int(spec["epochs"]), epochs_done=k, host="",
            threads=parent.threads, parent_run_id=parent_id, fork_epoch=k)).inserted_primary_key[0]
        rows = []
        for key, value in params.items():
            text, num, kind = encode_param(value)
            rows.append({"run_id": run_id, "name": str(key), "value_text": text, "value_num": num, "value_type": kind})
        if rows:
            conn.execute(insert(Param), rows)
        tags = conn.execute(select(RunTag.tag).where(RunTag.run_id == parent_id)).scalars().all()
        if tags:
            conn.execute(insert(RunTag), [{"run_id": run_id, "tag": t} for t in tags])
        m = Metric
        points = conn.execute(select(m.key, m.step, m.value, m.flag).where(
            m.run_id == parent_id, m.step <= k, ~m.key.startswith(TEST_PREFIX))).all()
        if points:
            conn.execute(insert(Metric), [{"run_id": run_id, "key": p.key, "step": p.step, "value": p.value,
                                           "flag": p.flag} for p in points])
        diverged = _rebuild_summary(conn, run_id)
        if diverged:
            conn.execute(update(Run).where(Run.id == run_id).values(diverged=True))
        return run_id


def lineage(engine: Engine, run_id: int) -> list[tuple[int, int | None]]:
    """[(run id, fork epoch)] from the run up through its parents: the run's own fork epoch first."""
    out, seen, current = [], set(), int(run_id)
    with engine.connect() as conn:
        while current is not None and current not in seen:
            seen.add(current)
            row = conn.execute(select(Run.parent_run_id, Run.fork_epoch).where(Run.id == current)).first()
            if row is None:
                break
            out.append((current, row.fork_epoch))
            current = row.parent_run_id
    return out

