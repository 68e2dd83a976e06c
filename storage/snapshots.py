"""A run's snapshots: the arrays and JSON values captured at an epoch for the inside-the-network views.

Encode (arrays as .npy, floats as float16 by default; other values as JSON), write an epoch's views
in one transaction, and read them back: readers ask for "the latest snapshot of a kind at or before
epoch e", so a view scrubbed to any epoch shows the nearest recorded one.
"""


from __future__ import annotations

import bisect
import io
import json
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sqlalchemy import Engine, delete, func, select

from .db import write_tx
from .models import Snapshot
from .values import to_json


def encode_snapshot(value, float_dtype: str | None = "float16") -> dict:
    """The row fields stored for `value` (its `data` length is the stored byte count)."""
    if isinstance(value, np.ndarray):
        arr = value
        if float_dtype is not None and arr.dtype.kind == "f":
            with np.errstate(over="ignore"):  # float16 overflows to ±inf beyond 65504, by design
                arr = arr.astype(float_dtype)
        if arr.dtype == object:
            raise TypeError("object arrays cannot be stored as snapshots")
        buf = io.BytesIO()
        np.save(buf, arr, allow_pickle=False)
        return {"encoding": "npy", "data": buf.getvalue(), "shape": json.dumps(list(arr.shape)),
                "dtype": str(arr.dtype)}
    return {"encoding": "json", "data": to_json(value).encode("utf-8"), "shape": "[]", "dtype": ""}


def write_snapshot(engine: Engine, run_id: int, epoch: int, kind: str, name: str, value, *,
                   float_dtype: str | None = "float16") -> int:
    """Store an array (floats as `float_dtype`, None keeps them) or a JSON-able value; replaces an older
    snapshot with the same (run, kind, epoch, name). Returns the stored byte count."""
    return write_encoded(engine, run_id, epoch, [(kind, name, encode_snapshot(value, float_dtype))])


def write_encoded(engine: Engine, run_id: int, epoch: int, rows: Iterable[tuple[str, str, dict]]) -> int:
    """Store (kind, name, encoded) rows of one epoch in one transaction, replacing same-named ones.
    Returns the stored byte count."""
    values = [{"run_id": int(run_id), "epoch": int(epoch), "kind": kind, "name": name, "nbytes": len(enc["data"]),
               **enc} for kind, name, enc in rows]
    if not values:
        return 0
    s = Snapshot
    with write_tx(engine) as conn:
        for v in values:
            conn.execute(delete(s).where(s.run_id == v["run_id"], s.kind == v["kind"], s.epoch == v["epoch"],
                                         s.name == v["name"]))
        conn.execute(s.__table__.insert(), values)
    return sum(v["nbytes"] for v in values)


def list_snapshots(engine: Engine, run_id: int) -> list[dict]:
    """[{"kind", "name", "epoch", "shape", "dtype", "encoding", "nbytes"}] for a run, without the data."""
    s = Snapshot
    stmt = (select(s.kind, s.name, s.epoch, s.shape, s.dtype, s.encoding, s.nbytes)
            .where(s.run_id == run_id).order_by(s.kind, s.epoch, s.name))
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(stmt)]
    for r in rows:
        r["shape"] = tuple(json.loads(r["shape"]))
    return rows


def read_snapshot(engine: Engine, run_id: int, kind: str, name: str, epoch: int):
    """The stored array (np.ndarray) or JSON value; KeyError if there is none."""
    stmt = select(Snapshot.encoding, Snapshot.data).where(
        Snapshot.run_id == run_id, Snapshot.kind == kind, Snapshot.name == name, Snapshot.epoch == epoch)
    with engine.connect() as conn:
        row = conn.execute(stmt).first()
    if row is None:
        raise KeyError((run_id, kind, name, epoch))
    return _decode(row.encoding, row.data)


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


def export_snapshots(engine: Engine, run_id: int, directory: str) -> int:
    """Write a run's snapshots as <directory>/run-<id>/<kind>/<epoch>-<name>.npy (arrays) or .json;
    returns how many files were written."""
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
