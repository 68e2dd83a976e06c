"""Arrays and JSON values captured at an epoch (weights, activations, ...) for inspection views."""

from __future__ import annotations

import functools
import io
import json

import numpy as np
from numpy.lib import format as npy_format
from sqlalchemy import Engine, delete, select

from .db import write_tx
from .models import Snapshot
from .values import to_json


def _encode(value, float_dtype: str | None) -> dict:
    if isinstance(value, np.ndarray):
        arr = value
        if float_dtype is not None and arr.dtype.kind == "f":
            with np.errstate(over="ignore"):  # float16 overflows to ±inf beyond 65504, by design
                arr = arr.astype(float_dtype)
        if arr.dtype == object:
            raise TypeError("object arrays cannot be stored as snapshots")
        header, shape, dtype = _array_fields(arr.dtype, arr.shape)
        if header is not None and arr.flags.c_contiguous:
            data = header + arr.tobytes()  # what np.save writes, without its per-call work
        else:
            buf = io.BytesIO()
            np.save(buf, arr, allow_pickle=False)
            data = buf.getvalue()
        return {"encoding": "npy", "data": data, "shape": shape, "dtype": dtype}
    return {"encoding": "json", "data": to_json(value).encode("utf-8"), "shape": "[]", "dtype": ""}


@functools.lru_cache(maxsize=256)
def _array_fields(dtype: np.dtype, shape: tuple[int, ...]) -> tuple[bytes | None, str, str]:
    """(np.save's header for a C-ordered array of plain numbers, else None; the row's shape and dtype
    text). A view has the same ones every epoch, and building them cost more than the data."""
    header = None
    if dtype.kind in "biufc":
        buf = io.BytesIO()
        npy_format.write_array_header_1_0(buf, {"descr": npy_format.dtype_to_descr(dtype),
                                                "fortran_order": False, "shape": shape})
        header = buf.getvalue()
    return header, json.dumps(list(shape)), str(dtype)


def write_snapshot(engine: Engine, run_id: int, epoch: int, kind: str, name: str, value, *,
                   float_dtype: str | None = "float16") -> int:
    """Store an array (floats as `float_dtype`, None keeps them) or a JSON-able value; replaces an older
    snapshot with the same (run, kind, epoch, name). Returns the stored byte count."""
    row = _encode(value, float_dtype)
    with write_tx(engine) as conn:
        conn.execute(delete(Snapshot).where(Snapshot.run_id == run_id, Snapshot.kind == kind,
                                            Snapshot.epoch == epoch, Snapshot.name == name))
        conn.execute(Snapshot.__table__.insert().values(run_id=run_id, epoch=int(epoch), kind=kind, name=name,
                                                        nbytes=len(row["data"]), **row))
    return len(row["data"])


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
    if row.encoding == "npy":
        return np.load(io.BytesIO(row.data), allow_pickle=False)
    return json.loads(bytes(row.data).decode("utf-8"))
