"""MNIST and Fashion-MNIST from local IDX files (gzipped or not). Nothing is downloaded.

IDX format: two zero bytes, a type code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
0x0D float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
uint32, then the data, big-endian, row-major.

Where files are looked for, in order: the spec's `data_dir` (alone, when given; the files may sit
in it or in `<data_dir>/<name>`), then `$NNLAB_DATA_DIR/<name>` and `$NNLAB_DATA_DIR`, then
`/usr/share/datasets/<name>` (Debian's dataset-fashion-mnist package installs there).
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
SYSTEM_DIR = Path("/usr/share/datasets")
TITLES = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzip detected from its first bytes) into a native-endian array."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic {raw[:4].hex()})")
    dtype, ndim = np.dtype(IDX_TYPES[raw[2]]), raw[3]
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    count = int(np.prod(dims)) if dims else 0
    if len(raw) - offset < count * dtype.itemsize:
        raise ValueError(f"{path} is truncated: expected {count} values of shape {dims}")
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=offset).reshape(dims)
    return data.astype(dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> None:
    """Write `array` as IDX (gzipped when `compress`, or when the name ends in .gz)."""
    codes = {np.dtype(v).newbyteorder("="): k for k, v in IDX_TYPES.items()}
    arr = np.asarray(array)
    code = codes.get(arr.dtype.newbyteorder("="))
    if code is None:
        raise ValueError(f"IDX cannot store dtype {arr.dtype}")
    header = bytes([0, 0, code, arr.ndim]) + np.array(arr.shape, dtype=">u4").tobytes()
    payload = header + arr.astype(np.dtype(IDX_TYPES[code])).tobytes()
    if compress is None:
        compress = str(path).endswith(".gz")
    Path(path).write_bytes(gzip.compress(payload) if compress else payload)


def search_dirs(name: str, data_dir: str = "") -> list[Path]:
    """Directories searched for `name`'s files, in order."""
    if data_dir:
        return [Path(data_dir), Path(data_dir) / name]
    dirs = []
    env = os.environ.get("NNLAB_DATA_DIR", "")
    if env:
        dirs += [Path(env) / name, Path(env)]
    dirs.append(SYSTEM_DIR / name)
    return dirs


def find_idx_files(name: str, data_dir: str = "") -> dict[str, Path]:
    """Paths of the four files in the first directory that has them all; a precise error otherwise."""
    dirs = search_dirs(name, data_dir)
    for d in dirs:
        found = {}
        for key, base in FILES.items():
            for candidate in (d / base, d / f"{base}.gz"):
                if candidate.is_file():
                    found[key] = candidate
                    break
        if len(found) == len(FILES):
            return found
    wanted = ", ".join(f"{base}[.gz]" for base in FILES.values())
    where = ", ".join(str(d) for d in dirs)
    raise FileNotFoundError(
        f"{TITLES.get(name, name)} files not found. Put these four files ({wanted}) in one directory and "
        f"set the spec's data_dir to it, or put them in $NNLAB_DATA_DIR/{name}. Searched: {where}."
    )


def load_idx_dataset(name: str, data_dir: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train (N, 28, 28) uint8, y_train (N,), x_test, y_test) for 'mnist' or 'fashion-mnist'."""
    paths = find_idx_files(name, data_dir)
    arrays = {key: read_idx(p) for key, p in paths.items()}
    for split in ("train", "test"):
        xi, yi = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if xi.ndim != 3 or yi.ndim != 1 or len(xi) != len(yi):
            raise ValueError(f"{name} {split}: images {xi.shape} and labels {yi.shape} do not match")
    return (arrays["train_images"], arrays["train_labels"].astype(np.int64),
            arrays["test_images"], arrays["test_labels"].astype(np.int64))
