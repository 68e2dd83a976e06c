"""Inverted dropout: scale kept units by 1/(1-p) at training time, identity at evaluation."""

from __future__ import annotations

import numpy as np

from .base import Layer


class Dropout(Layer):
    def __init__(self, p: float, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {p}")
        self.p = p
        self.rng = rng or np.random.default_rng(0)
        self._mask: np.ndarray | None = None

    def set_rng(self, rng):
        self.rng = rng

    def forward(self, x, *, training=False):
        if not training or self.p == 0.0:
            self._mask = None
            return x
        keep = 1.0 - self.p
        # one pass from the uniform draws to the scaled mask (bool times a typed scalar)
        self._mask = (self.rng.random(x.shape, dtype=np.float32) < keep) * np.asarray(1.0 / keep, dtype=x.dtype)
        return x * self._mask

    def backward(self, dout):
        return dout if self._mask is None else dout * self._mask
