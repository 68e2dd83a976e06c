"""The 8x8 digits that scikit-learn ships (1,797 images), read from its package data without sklearn."""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path

import numpy as np


def digits_csv_path() -> Path:
    """Where scikit-learn keeps digits.csv.gz; found without importing scikit-learn itself."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the digits data set comes with scikit-learn: pip install scikit-learn")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    if not path.exists():
        raise FileNotFoundError(f"scikit-learn is installed but {path} is missing")
    return path


def read_digits() -> tuple[np.ndarray, np.ndarray]:
    """Return (x (1797, 8, 8) float32 in [0, 16], y (1797,) int64)."""
    with gzip.open(digits_csv_path(), "rt") as f:
        data = np.loadtxt(f, delimiter=",", dtype=np.float32)
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(np.int64)
