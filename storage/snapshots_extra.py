"""Snapshot helpers for the inside-the-network views, on top of storage.snapshots' table and encoding.

Several snapshots of one epoch go in one transaction; readers ask for "the latest snapshot of a kind
at or before epoch e", so a view scrubbed to any epoch shows the nearest recorded one.
"""

from __future__ import annotations

import bisect
import io
import json
from collections.abc import Iterable

import numpy as np
from sqlalchemy import Engine, bindparam, delete, func, insert, select

from . import prepared
from .db import raw_write_tx, write_tx
from .models import Snapshot
from .snapshots import _encode


def encode_snapshot(value, float_dtype: str | None = "float16") -> dict:
    """The row fields `write_snapshot` would store for `value` (its `data` length is the stored bytes)."""
    return _encode(value, float_dtype)


_COLUMNS = ("run_id", "epoch", "kind", "name", "shape", "dtype", "encoding", "data", "nbytes")
_KEY = ("run_id", "kind", "epoch", "name")
_SAMPLE = {"run_id": 0, "epoch": 0, "kind": "", "name": "", "shape": "", "dtype": "", "encoding": "",
           "data": b"", "nbytes": 0}


def _statement(dialect, name: str) -> prepared.Prepared:
    """The snapshot DELETE (by key) or INSERT, compiled once per dialect (prepared.py)."""
    s = Snapshot.__table__
    if name == "delete":
        return prepared.prepare(dialect, "snapshot-delete",
                                lambda d: delete(s).where(*(s.c[k] == bindparam(f"key_{k}") for k in _KEY)),
                                {f"key_{k}": _SAMPLE[k] for k in _KEY})
    return prepared.prepare(dialect, "snapshot-insert",
                            lambda d: insert(s).values({c: bindparam(c) for c in _COLUMNS}), _SAMPLE)


def write_encoded(engine: Engine, run_id: int, epoch: int, rows: Iterable[tuple[str, str, dict]]) -> int:
    """Store (kind, name, encoded) rows of one epoch in one transaction, replacing same-named ones.
    Returns the stored byte count.

    Called after every recorded epoch, so it runs two statements (an executemany DELETE by key and an
    executemany INSERT) compiled once per dialect by prepared.py, on the DBAPI cursor: SQLAlchemy's
    per-call machinery cost more than the database work.
    """
    rows = list(rows)
    if not rows:
        return 0
    epoch = int(epoch)
    values = [{"run_id": run_id, "epoch": epoch, "kind": kind, "name": name, "nbytes": len(enc["data"]),
               "shape": enc["shape"], "dtype": enc["dtype"], "encoding": enc["encoding"], "data": enc["data"]}
              for kind, name, enc in rows]
    delete_by_key, insert_row = _statement(engine.dialect, "delete"), _statement(engine.dialect, "insert")
    with raw_write_tx(engine) as cursor:
        cursor.executemany(delete_by_key.sql, [delete_by_key.params({f"key_{k}": v[k] for k in _KEY})
                                               for v in values])
        cursor.executemany(insert_row.sql, [insert_row.params(v) for v in values])
    return sum(v["nbytes"] for v in values)


def snapshot_index(engine: Engine, run_id: int) -> dict[str, list[int]]:
    """{kind: sorted epochs that hold at least one snapshot of that kind}."""
    s = Snapshot
    stmt = select(s.kind, s.epoch).where(s.run_id == run_id).distinct()
    out: dict[str, set[int]] = {}
    with engine.connect() as conn:
        for kind, epoch in conn.execute(stmt):
            out.setdefault(kind, set()).add(int(epoch))
    return {k: sorted(v) for k, v in out.items()}


def snapshot_bytes(engine: Engine, run_id: int) -> int:
    """Total stored bytes of a run's snapshots."""
    with engine.connect() as conn:
        return int(conn.scalar(select(func.coalesce(func.sum(Snapshot.nbytes), 0))
                               .where(Snapshot.run_id == run_id)))


def nearest_epoch(epochs: list[int], epoch: int) -> int | None:
    """The latest of the sorted `epochs` at or before `epoch` (the first one if all are later)."""
    if not epochs:
        return None
    i = bisect.bisect_right(epochs, epoch)
    return epochs[i - 1] if i else epochs[0]


def _decode(encoding: str, data: bytes):
    if encoding == "npy":
        return np.load(io.BytesIO(data), allow_pickle=False)
    return json.loads(bytes(data).decode("utf-8"))


def read_kind(engine: Engine, run_id: int, kind: str, epoch: int) -> dict[str, object]:
    """{name: value} of every snapshot of `kind` at `epoch` exactly ({} if none)."""
    s = Snapshot
    stmt = (select(s.name, s.encoding, s.data)
            .where(s.run_id == run_id, s.kind == kind, s.epoch == epoch).order_by(s.id))
    with engine.connect() as conn:
        return {name: _decode(enc, data) for name, enc, data in conn.execute(stmt)}


def read_kind_near(engine: Engine, run_id: int, kind: str, epoch: int,
                   index: dict[str, list[int]] | None = None) -> tuple[int | None, dict[str, object]]:
    """(recorded epoch, {name: value}) of `kind` at the latest recorded epoch <= `epoch`."""
    index = snapshot_index(engine, run_id) if index is None else index
    at = nearest_epoch(index.get(kind, []), epoch)
    return (None, {}) if at is None else (at, read_kind(engine, run_id, kind, at))


def delete_snapshots(engine: Engine, run_id: int) -> None:
    """Remove every snapshot of a run (they also go when the run is deleted)."""
    with write_tx(engine) as conn:
        conn.execute(delete(Snapshot).where(Snapshot.run_id == run_id))


def export_snapshots(engine: Engine, run_id: int, directory: str) -> int:
    """Write a run's snapshots as <directory>/run-<id>/<kind>/<epoch>-<name>.npy (arrays) or .json;
    returns how many files were written."""
    from pathlib import Path

    root = Path(directory) / f"run-{run_id}"
    s = Snapshot
    stmt = select(s.kind, s.name, s.epoch, s.encoding, s.data).where(s.run_id == run_id).order_by(s.kind, s.epoch)
    count = 0
    with engine.connect() as conn:
        for kind, name, epoch, encoding, data in conn.execute(stmt):
            folder = root / _safe(kind)
            folder.mkdir(parents=True, exist_ok=True)
            suffix = ".npy" if encoding == "npy" else ".json"
            (folder / f"{int(epoch):05d}-{_safe(name)}{suffix}").write_bytes(bytes(data))
            count += 1
    return count


def _safe(text: str) -> str:
    """A file-name-safe version of a snapshot kind or name."""
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in text) or "_"


def epoch_ranges(epochs: list[int]) -> str:
    """'0-12, 16, 20' for sorted epochs: consecutive runs collapsed."""
    parts, start = [], None
    for i, e in enumerate(epochs):
        if start is None:
            start = e
        if i + 1 == len(epochs) or epochs[i + 1] != e + 1:
            parts.append(str(start) if start == e else f"{start}-{e}")
            start = None
    return ", ".join(parts)


def summarize_snapshots(rows: list[dict]) -> list[tuple]:
    """(kind, names, epochs, bytes) per kind, from `list_snapshots` rows: what `nnlab show --snapshots` prints."""
    kinds: dict[str, dict] = {}
    for r in rows:
        k = kinds.setdefault(r["kind"], {"names": set(), "epochs": set(), "bytes": 0})
        k["names"].add(r["name"])
        k["epochs"].add(int(r["epoch"]))
        k["bytes"] += int(r.get("nbytes") or 0)
    return [(kind, len(k["names"]), epoch_ranges(sorted(k["epochs"])), k["bytes"]) for kind, k in sorted(kinds.items())]
