"""A TrainingState as bytes and back: a versioned, pickle-free checkpoint format.

Format, version 1. An uncompressed ZIP archive (ZIP_STORED: every entry carries a CRC-32, and
`unzip -l` or `zipfile` can look inside) holding, in this order:

    checkpoint.json      UTF-8 JSON object:
                           "format":  "nnlab-checkpoint"
                           "version": 1
                           "epoch":   epochs completed (int)
                           "meta":    the state's JSON metadata (see engine.state); Python's json, so
                                      NaN/Infinity may appear, and integers are exact (a PCG64 state
                                      is a 128-bit integer)
                           "arrays":  the array names, in order
    arrays/<name>.npy    one per array, NumPy's .npy format (written and read with allow_pickle=False;
                         <name> is the state's key, e.g. arrays/model/param/layers.0.W.npy)

Entries carry a fixed timestamp (1980-01-01), so one state always encodes to the same bytes. The size
is the arrays' bytes (`TrainingState.nbytes`) plus about 200 bytes and twice the name per array
(ZIP headers and the .npy header) plus the JSON.

A reader refuses, with `CheckpointError` naming what is wrong, anything it cannot read in full: not a
ZIP, truncated, a CRC mismatch, no or unparsable checkpoint.json, another format or version, arrays
missing or unlisted, an unreadable .npy. It never fills in a default.
"""

from __future__ import annotations

import io
import json
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
    header = {"format": FORMAT, "version": VERSION, "epoch": int(state.epoch), "meta": state.meta,
              "arrays": list(state.arrays)}
    try:
        text = json.dumps(header, separators=(",", ":"))
    except TypeError as e:
        raise CheckpointError(f"state metadata is not JSON: {e}") from None
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr(zipfile.ZipInfo(HEADER, _STAMP), text.encode())
        for name, a in state.arrays.items():
            with zf.open(zipfile.ZipInfo(f"arrays/{name}.npy", _STAMP), "w") as f:
                try:
                    np.lib.format.write_array(f, np.asarray(a), allow_pickle=False)
                except ValueError as e:  # object arrays: they would need pickle
                    raise CheckpointError(f"array {name!r} cannot be stored: {e}") from None
    return buf.getvalue()


def decode_checkpoint(data: bytes) -> TrainingState:
    """The TrainingState in checkpoint bytes; CheckpointError when they cannot be read in full."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        if bytes(data[:4]) == b"PK\x03\x04":
            raise CheckpointError(f"truncated checkpoint: {len(data)} bytes, its ZIP directory is missing") from None
        raise CheckpointError(f"not a checkpoint: {len(data)} bytes that are not a ZIP archive") from None
    with zf:
        header = _read_header(zf)
        names = header["arrays"]
        entries = set(zf.namelist()) - {HEADER}
        expected = {f"arrays/{n}.npy" for n in names}
        if entries != expected:
            missing, extra = sorted(expected - entries), sorted(entries - expected)
            raise CheckpointError(f"checkpoint entries do not match its header: missing {missing}, "
                                  f"unexpected {extra}")
        arrays = {name: _read_array(zf, f"arrays/{name}.npy") for name in names}
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


def _read_array(zf: zipfile.ZipFile, entry: str) -> np.ndarray:
    try:
        with zf.open(entry) as f:
            a = np.lib.format.read_array(f, allow_pickle=False)
            if f.read(1):
                raise ValueError("bytes after the array data")
    except zipfile.BadZipFile as e:
        raise CheckpointError(f"corrupt checkpoint: {entry}: {e}") from None
    except (ValueError, OSError, EOFError) as e:
        raise CheckpointError(f"corrupt checkpoint: {entry} is not a readable .npy ({e})") from None
    return a
