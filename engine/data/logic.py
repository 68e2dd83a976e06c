"""The four logic gates of the perceptron post: four 2-D points each."""

from __future__ import annotations

import numpy as np

from .base import Dataset

TRUTH = {
    "and": [0, 0, 0, 1],
    "or": [0, 1, 1, 1],
    "nand": [1, 1, 1, 0],
    "xor": [0, 1, 1, 0],
}


def load_logic(name: str) -> Dataset:
    """AND/OR/NAND/XOR: the four points are both the training and the validation set."""
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array(TRUTH[name], dtype=np.int64)
    return Dataset(name, x, y, x.copy(), y.copy(), 2, (2,), meta={"plane": True, "logic": True})
