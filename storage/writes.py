"""Verbs that change the store. Plain data in, plain data out; each call is one short transaction.

Status rules (finish_run): a run ends once. 'queued'/'running' may become any final status;
a final status is never overwritten, except 'crashed' (a guess made from a stale heartbeat), which
the run's own process may still correct by finishing. A 'completed' finish on a run whose Cancel
was pressed before its planned epochs were done is recorded as 'cancelled'. The transaction that
gives a run its final status also writes its packed series (series.py).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, literal_column, select, update

from .checkpoints import write_checkpoints
from .db import RunNotFound, dialect_insert, write_tx
from .epoch_log import log_epoch, log_epochs, write_epochs
from .models import (CLAIM_LOCK, FINAL_STATUSES, RUN_STATUSES, Event, Experiment, Lock, Param, Run, RunTag,
                     utcnow)
from .series import pack_run_series
from .values import encode_param, to_json

__all__ = ["dialect_insert", "log_epoch", "log_epochs"]  # re-exported from epoch_log and db

# Columns set_run_fields may change; status and timestamps have their own verbs.
SETTABLE_FIELDS = frozenset({"name", "seed", "model", "dataset", "notes", "engine_version", "epochs_planned",
                             "epochs_done", "num_params", "pid", "host", "diverged", "error"})
MAX_TAG_LENGTH = 100


# --- creating and starting runs ------------------------------------------------------------------

def _experiment_id(conn, name: str) -> int:
    conn.execute(dialect_insert(conn, Experiment).values(name=name, created_at=utcnow(), description="")
                 .on_conflict_do_nothing(index_elements=["name"]))
    return conn.scalar(select(Experiment.id).where(Experiment.name == name))


def _clean_tags(tags: Iterable[str] | str) -> list[str]:
    if isinstance(tags, str):
        tags = [tags]
    out = []
    for tag in tags:
        tag = str(tag).strip()
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"tag longer than {MAX_TAG_LENGTH} characters: {tag[:40]!r}...")
        if tag and tag not in out:
            out.append(tag)
    return out


def create_run(engine: Engine, spec: Mapping, params: Mapping[str, object], *, status: str = "queued",
               name: str = "", experiment: str | None = None, tags: Iterable[str] = (), seed: int = 0,
               model: str = "", dataset: str = "", epochs_planned: int = 0, engine_version: str = "",
               pid: int | None = None, host: str = "") -> int:
    """Insert a run with its params and tags (creating the experiment by name if needed); returns its id.
    A run created 'running' by its own trainer gives that process's `pid` and `host`."""
    return create_runs(engine, [dict(spec=spec, params=params, status=status, name=name, experiment=experiment,
                                     tags=tags, seed=seed, model=model, dataset=dataset,
                                     epochs_planned=epochs_planned, engine_version=engine_version, pid=pid,
                                     host=host)])[0]


def create_runs(engine: Engine, runs: Iterable[Mapping]) -> list[int]:
    """Insert several runs (each a mapping of create_run's arguments) in one transaction: all or none."""
    runs = list(runs)
    for r in runs:
        if r.get("status", "queued") not in RUN_STATUSES:
            raise ValueError(f"unknown status {r.get('status')!r}; expected one of {RUN_STATUSES}")
    tags = [_clean_tags(r.get("tags", ())) for r in runs]
    now = utcnow()
    ids = []
    with write_tx(engine) as conn:
        experiments = {name: _experiment_id(conn, name) for name in {r.get("experiment") for r in runs} if name}
        for r, run_tags in zip(runs, tags):
            status = r.get("status", "queued")
            result = conn.execute(Run.__table__.insert(), dict(
                experiment_id=experiments.get(r.get("experiment")), name=r.get("name", ""), status=status,
                created_at=now, seed=int(r.get("seed", 0)), model=r.get("model", ""), dataset=r.get("dataset", ""),
                spec=to_json(dict(r["spec"])), notes="", engine_version=r.get("engine_version", ""),
                diverged=False, cancel_requested=False, epochs_planned=int(r.get("epochs_planned", 0)),
                epochs_done=0, pid=r.get("pid"), host=r.get("host", ""), num_params=r.get("num_params"),
                threads=r.get("threads"), started_at=now if status == "running" else None,
                heartbeat_at=now if status == "running" else None,
                ended_at=now if status in FINAL_STATUSES else None))
            run_id = result.inserted_primary_key[0]
            ids.append(run_id)
            rows = []
            for k, v in r["params"].items():
                text, num, kind = encode_param(v)
                rows.append({"run_id": run_id, "name": str(k), "value_text": text, "value_num": num,
                             "value_type": kind})
            if rows:
                conn.execute(Param.__table__.insert(), rows)
            if run_tags:
                conn.execute(RunTag.__table__.insert(), [{"run_id": run_id, "tag": t} for t in run_tags])
    return ids


def start_run(engine: Engine, run_id: int, *, pid: int, host: str, num_params: int | None = None,
              threads: int | None = None) -> None:
    """Mark a run running now, in process `pid` on `host` (with its model's size and BLAS threads when known)."""
    now = utcnow()
    extra = {} if num_params is None else {"num_params": int(num_params)}
    if threads is not None:
        extra["threads"] = int(threads)
    with write_tx(engine) as conn:
        result = conn.execute(update(Run).where(Run.id == run_id).values(
            status="running", started_at=now, heartbeat_at=now, pid=pid, host=host, **extra))
        if result.rowcount == 0:
            raise RunNotFound(run_id)


def claim_next_run(engine: Engine, *, max_running: int | None, pid: int, host: str, worker: str = "") -> int | None:
    """Atomically take the oldest queued run and mark it running (trained by `worker`), if fewer than
    `max_running` runs are running in the whole store (None: no global cap, as for `nnlab worker`,
    whose --concurrency caps what it trains)."""
    with write_tx(engine) as conn:
        # SQLite: BEGIN IMMEDIATE already serialises writers. PostgreSQL: this row lock does.
        if conn.scalar(select(Lock.name).where(Lock.name == CLAIM_LOCK).with_for_update()) is None:
            conn.execute(dialect_insert(conn, Lock).values(name=CLAIM_LOCK).on_conflict_do_nothing())
            conn.scalar(select(Lock.name).where(Lock.name == CLAIM_LOCK).with_for_update())
        if max_running is not None:
            running = conn.scalar(select(func.count()).select_from(Run).where(Run.status == "running"))
            if running >= max_running:
                return None
        run_id = conn.scalar(select(Run.id).where(Run.status == "queued")
                             .order_by(Run.created_at, Run.id).limit(1))
        if run_id is None:
            return None
        now = utcnow()
        conn.execute(update(Run).where(Run.id == run_id).values(
            status="running", started_at=now, heartbeat_at=now, pid=pid, host=host, worker=worker))
        return run_id


# --- heartbeat and cancel -----------------------------------------------------------------------

def heartbeat(engine: Engine, run_id: int) -> tuple[bool, bool]:
    """Record that the run's process is alive; returns (still running, Cancel requested). Nothing is
    written when the run is not running."""
    with write_tx(engine) as conn:
        row = conn.execute(update(Run).where(Run.id == run_id, Run.status == "running")
                           .values(heartbeat_at=utcnow()).returning(Run.cancel_requested)).first()
        return (row is not None, bool(row and row.cancel_requested))


def set_run_fields(engine: Engine, run_id: int, **fields) -> None:
    """Set plain columns of a run (num_params, pid, host, epochs_planned, ...)."""
    unknown = set(fields) - SETTABLE_FIELDS
    if unknown:
        raise ValueError(f"cannot set {sorted(unknown)} with set_run_fields; allowed: {sorted(SETTABLE_FIELDS)}")
    if not fields:
        return
    with write_tx(engine) as conn:
        if conn.execute(update(Run).where(Run.id == run_id).values(**fields)).rowcount == 0:
            raise RunNotFound(run_id)


# --- ending runs -----------------------------------------------------------------------------------

def write_events(conn, run_id: int, events) -> int:
    """Store a run's events [(epoch, kind, message)] inside the caller's write transaction, replacing any
    it had; returns how many."""
    rows = [{"run_id": int(run_id), "epoch": int(e), "kind": k, "message": m} for e, k, m in events]
    conn.execute(delete(Event).where(Event.run_id == run_id))
    if rows:
        conn.execute(Event.__table__.insert(), rows)
    return len(rows)


def finish_run(engine: Engine, run_id: int, status: str, *, error: str | None = None,
               epochs: list[tuple[int, Mapping[str, float]]] = (), events=None,
               checkpoints: Iterable[tuple[int, int, bytes]] = (), drop_checkpoints: Iterable[int] = ()) -> str:
    """End a run with a final status (and error text); returns the status it now has (see module doc).
    `epochs` not yet logged ([(step, metrics)], as log_epochs takes them), the run's `events`
    ([(epoch, kind, message)]) and `checkpoints` not yet stored ([(epoch, version, data)], see
    storage.checkpoints) are written in the same transaction."""
    if status not in FINAL_STATUSES:
        raise ValueError(f"finish_run needs a final status {FINAL_STATUSES}, got {status!r}")
    with write_tx(engine) as conn:
        if epochs:
            write_epochs(conn, int(run_id), list(epochs))
        if events is not None:
            write_events(conn, int(run_id), events)
        write_checkpoints(conn, int(run_id), checkpoints, drop_checkpoints)
        row = conn.execute(select(Run.status, Run.cancel_requested, Run.epochs_done, Run.epochs_planned)
                           .where(Run.id == run_id)).first()
        if row is None:
            raise RunNotFound(run_id)
        if row.status in FINAL_STATUSES and row.status != "crashed":
            return row.status
        if status == "completed" and row.cancel_requested and row.epochs_done < row.epochs_planned:
            status = "cancelled"
        values = {"status": status, "ended_at": utcnow()}
        if error is not None or row.status == "crashed":
            values["error"] = error
        conn.execute(update(Run).where(Run.id == run_id).values(**values))
        pack_run_series(conn, run_id)
        return status


def request_cancel(engine: Engine, run_id: int) -> str:
    """Ask a run to stop: a queued run is cancelled at once, a running one at its next epoch end."""
    with write_tx(engine) as conn:
        status = conn.scalar(select(Run.status).where(Run.id == run_id))
        if status is None:
            raise RunNotFound(run_id)
        if status == "queued":
            conn.execute(update(Run).where(Run.id == run_id).values(
                status="cancelled", cancel_requested=True, ended_at=utcnow()))
            return "cancelled"
        if status == "running":
            conn.execute(update(Run).where(Run.id == run_id).values(cancel_requested=True))
        return status


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists on this host and is not a zombie."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            state = fh.read().rsplit(b")", 1)[1].split()[0]
        return state not in (b"Z", b"X")
    except (OSError, IndexError):
        return True


def mark_crashed_runs(engine: Engine, *, stale_after_s: float = 30.0, remote_stale_after_s: float = 600.0,
                      worker_stale_after_s: float = 45.0, host: str | None = None, by: str = "") -> list[int]:
    """Mark 'crashed' every running run whose heartbeat is stale and whose process is gone; returns their ids.

    A run on this host is crashed when its heartbeat is older than `stale_after_s` and its pid is not
    alive. A run on another host (its pid cannot be checked) needs a heartbeat older than
    `worker_stale_after_s` when a worker claimed it (a worker's trainer beats every 5 s), else
    `remote_stale_after_s`; hosts' clocks are assumed to agree. `by` names the marker in the error
    text. Costs one indexed read when nothing is stale.
    """
    host = host if host is not None else socket.gethostname()
    now = utcnow()
    cutoff = now - timedelta(seconds=stale_after_s)
    last_seen = func.coalesce(Run.heartbeat_at, Run.started_at, Run.created_at)
    # The literal (not a bound parameter) lets the database use the partial index on running runs.
    running = Run.status == literal_column("'running'")
    with engine.connect() as conn:
        rows = conn.execute(select(Run.id, Run.pid, Run.host, Run.worker, Run.heartbeat_at, Run.started_at,
                                   Run.created_at).where(running, last_seen < cutoff)).all()
        conn.rollback()
    dead = []
    for row in rows:
        seen: datetime = row.heartbeat_at or row.started_at or row.created_at
        if row.host in ("", host):
            gone = not pid_alive(row.pid) if row.host == host else True
        else:
            limit = worker_stale_after_s if row.worker else remote_stale_after_s
            gone = seen < now - timedelta(seconds=max(limit, stale_after_s))
        if gone:
            dead.append((row, seen))
    crashed = []
    if dead:
        with write_tx(engine) as conn:
            for row, seen in dead:
                trainer = f"pid {row.pid} on {row.host or 'an unknown host'}" + (
                    f", worker {row.worker}" if row.worker else "")
                error = (f"The training process ({trainer}) stopped "
                         f"without finishing the run: no heartbeat since {seen:%Y-%m-%d %H:%M:%S} UTC. "
                         f"Marked crashed by {by + ' ' if by else ''}pid {os.getpid()} on {host}.")
                result = conn.execute(update(Run).where(Run.id == row.id, Run.status == "running",
                                                        last_seen < cutoff)
                                      .values(status="crashed", ended_at=seen, error=error))
                if result.rowcount:
                    pack_run_series(conn, row.id)
                    crashed.append(row.id)
    return crashed


# --- labels, notes, deletion -------------------------------------------------------------------------

def tag_run(engine: Engine, run_id: int, tags: Iterable[str] | str) -> None:
    """Add tags to a run (existing ones are kept, duplicates ignored)."""
    tags = _clean_tags(tags)
    if not tags:
        return
    with write_tx(engine) as conn:
        if conn.scalar(select(Run.id).where(Run.id == run_id)) is None:
            raise RunNotFound(run_id)
        conn.execute(dialect_insert(conn, RunTag).on_conflict_do_nothing(),
                     [{"run_id": run_id, "tag": t} for t in tags])


def untag_run(engine: Engine, run_id: int, tags: Iterable[str] | str) -> None:
    """Remove tags from a run (missing ones are ignored)."""
    tags = _clean_tags(tags)
    with write_tx(engine) as conn:
        conn.execute(delete(RunTag).where(RunTag.run_id == run_id, RunTag.tag.in_(tags)))


def set_note(engine: Engine, run_id: int, text: str) -> None:
    """Replace a run's notes."""
    set_run_fields(engine, run_id, notes=text)


def rename_run(engine: Engine, run_id: int, name: str) -> None:
    """Change a run's display name."""
    set_run_fields(engine, run_id, name=name)


def delete_runs(engine: Engine, run_ids: Iterable[int]) -> int:
    """Delete runs with their params, tags, metrics, packed series and snapshots; returns how many runs were deleted."""
    ids = [int(i) for i in run_ids]
    if not ids:
        return 0
    with write_tx(engine) as conn:
        return conn.execute(delete(Run).where(Run.id.in_(ids))).rowcount
