"""A TrainingState as bytes and back: a versioned, pickle-free checkpoint format.

Format, version 1. An uncompressed ZIP archive (ZIP_STORED: every entry carries a CRC-32, and
`unzip -l` or `zipfile` can look inside) holding, in this order:

    checkpoint.json        UTF-8 JSON object:
                             "format":  "nnlab-checkpoint"
                             "version": 1
                             "epoch":   epochs completed (int)
                             "meta":    the state's JSON metadata (see engine.state); Python's json, so
                                        NaN/Infinity may appear, and integers are exact (a PCG64 state
                                        is a 128-bit integer)
                             "arrays":  [{"name": "model/param/layers.0.W", "dtype": "float32",
                                          "shape": [64, 64]}, ...] every array, in the state's order
    arrays/<dtype>.npy     one per dtype named in "arrays" (arrays/float32.npy, arrays/int64.npy), in
                           order of first use: a 1-D .npy (NumPy's format, written and read with
                           allow_pickle=False) holding every array of that dtype, flattened in C order,
                           one after another in the order "arrays" lists them

So an array is a slice of its dtype's file: its offset is the sum of the sizes of the arrays of that
dtype listed before it. One file per dtype rather than one per array keeps a deep model's checkpoint
cheap to write and read: a ResNet-200 with Adam has 2,800 arrays, and each ZIP entry and .npy header
has a fixed cost (README, Benchmarks). Only numbers and booleans are stored.

Entries carry a fixed timestamp (1980-01-01), so one state always encodes to the same bytes. The size
is the arrays' bytes (`TrainingState.nbytes`) plus the JSON plus about 250 bytes per dtype.

A reader refuses, with `CheckpointError` naming what is wrong, anything it cannot read in full: not a
ZIP, truncated, a CRC mismatch, no or unparsable checkpoint.json, another format or version, an array
index that does not add up to the data, missing or unexpected entries, an unreadable .npy. It never
fills in a default.
"""

from __future__ import annotations

import io
import json
import math
import zipfile

import numpy as np

from .state import TrainingState

FORMAT = "nnlab-checkpoint"
VERSION = 1
HEADER = "checkpoint.json"
_STAMP = (1980, 1, 1, 0, 0, 0)


class CheckpointError(ValueError):
    """A checkpoint that cannot be read; the message says what is wrong with it."""


def encode_checkpoint(state: TrainingState) -> bytes:
    """The checkpoint bytes of `state` (format above)."""
    groups: dict[str, list[np.ndarray]] = {}
    index, dtype_names = [], {}  # dtype.name is slow to compute: once per dtype
    for name, a in state.arrays.items():
        a = np.asarray(a)
        if a.dtype.kind not in "biufc":
            raise CheckpointError(f"array {name!r} has dtype {a.dtype}: a checkpoint stores numbers and booleans")
        dtype = dtype_names.get(a.dtype) or dtype_names.setdefault(a.dtype, a.dtype.name)
        groups.setdefault(dtype, []).append(a)
        index.append({"name": name, "dtype": dtype, "shape": list(a.shape)})
    header = {"format": FORMAT, "version": VERSION, "epoch": int(state.epoch), "meta": state.meta, "arrays": index}
    try:
        text = json.dumps(header, separators=(",", ":"))
    except TypeError as e:
        raise CheckpointError(f"state metadata is not JSON: {e}") from None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo(HEADER, _STAMP), text.encode())
        for dtype, arrays in groups.items():
            flat = np.concatenate([a.ravel() for a in arrays])
            with zf.open(zipfile.ZipInfo(f"arrays/{dtype}.npy", _STAMP), "w") as f:
                np.lib.format.write_array(f, flat, allow_pickle=False)
    return buf.getvalue()


def decode_checkpoint(data: bytes) -> TrainingState:
    """The TrainingState in checkpoint bytes; CheckpointError when they cannot be read in full.

    The arrays are views into one array per dtype.
    """
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        if bytes(data[:4]) == b"PK\x03\x04":
            raise CheckpointError(f"truncated checkpoint: {len(data)} bytes, its ZIP directory is missing") from None
        raise CheckpointError(f"not a checkpoint: {len(data)} bytes that are not a ZIP archive") from None
    with zf:
        header = _read_header(zf)
        index = _check_index(header["arrays"])
        dtypes = list(dict.fromkeys(entry["dtype"] for entry in index))
        entries, expected = set(zf.namelist()) - {HEADER}, {f"arrays/{d}.npy" for d in dtypes}
        if entries != expected:
            raise CheckpointError(f"checkpoint entries do not match its header: missing {sorted(expected - entries)}, "
                                  f"unexpected {sorted(entries - expected)}")
        flats = {d: _read_flat(zf, d, sum(e["size"] for e in index if e["dtype"] == d)) for d in dtypes}
    arrays, offsets = {}, dict.fromkeys(dtypes, 0)
    for e in index:
        start = offsets[e["dtype"]]
        offsets[e["dtype"]] = start + e["size"]
        arrays[e["name"]] = flats[e["dtype"]][start:start + e["size"]].reshape(e["shape"])
    return TrainingState(header["epoch"], arrays, header["meta"])


def _read_header(zf: zipfile.ZipFile) -> dict:
    try:
        raw = zf.read(HEADER)
    except KeyError:
        raise CheckpointError(f"not a checkpoint: no {HEADER} in the archive") from None
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise CheckpointError(f"corrupt checkpoint: {HEADER}: {e}") from None
    try:
        header = json.loads(raw.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise CheckpointError(f"corrupt checkpoint: {HEADER} is not JSON ({e})") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise CheckpointError(f"not a checkpoint: {HEADER} does not say format {FORMAT!r}")
    version = header.get("version")
    if version != VERSION:
        raise CheckpointError(f"checkpoint format version {version!r}: this reader reads version {VERSION} only")
    for key, typ in (("epoch", int), ("meta", dict), ("arrays", list)):
        if not isinstance(header.get(key), typ):
            raise CheckpointError(f"corrupt checkpoint: {HEADER} has no {typ.__name__} {key!r}")
    return header


def _check_index(index: list) -> list[dict]:
    """The header's array list with each entry's size, after checking every field."""
    out, names, dtypes = [], set(), {}
    for i, e in enumerate(index):
        try:
            name, dtype, shape = e["name"], e["dtype"], tuple(e["shape"])
            if dtype not in dtypes:
                dtypes[dtype] = np.dtype(dtype).name == dtype and np.dtype(dtype).kind in "biufc"
            if not isinstance(name, str) or name in names or not dtypes[dtype] \
                    or not all(isinstance(n, int) and n >= 0 for n in shape):
                raise ValueError
        except (TypeError, KeyError, ValueError):
            raise CheckpointError(f"corrupt checkpoint: array entry {i} of {HEADER} is not a unique name, a numeric "
                                  f"dtype and a shape: {str(e)[:200]}") from None
        names.add(name)
        out.append({"name": name, "dtype": dtype, "shape": shape, "size": math.prod(shape)})
    return out


def _read_flat(zf: zipfile.ZipFile, dtype: str, size: int) -> np.ndarray:
    entry = f"arrays/{dtype}.npy"
    try:
        with zf.open(entry) as f:
            flat = np.lib.format.read_array(f, allow_pickle=False)
            if f.read(1):
                raise ValueError("bytes after the array data")
    except zipfile.BadZipFile as e:
        raise CheckpointError(f"corrupt checkpoint: {entry}: {e}") from None
    except (ValueError, OSError, EOFError) as e:
        raise CheckpointError(f"corrupt checkpoint: {entry} is not a readable .npy ({e})") from None
    if flat.dtype.name != dtype or flat.shape != (size,):
        raise CheckpointError(f"corrupt checkpoint: {entry} holds {flat.dtype.name} {flat.shape}, its header lists "
                              f"{size} values of {dtype}")
    return flat
