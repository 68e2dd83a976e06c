"""Positional encodings: attention is order-blind, so position is added to each token's vector."""

from __future__ import annotations

import math

import numpy as np

from .base import Layer


def sinusoidal_table(length: int, dim: int) -> np.ndarray:
    """(length, dim) table of Vaswani et al.: sin on even columns, cos on odd, wavelengths 2pi..10000*2pi."""
    pos = np.arange(length, dtype=np.float64)[:, None]
    freq = np.exp(-math.log(10000.0) * np.arange(0, dim, 2, dtype=np.float64) / dim)  # (ceil(dim/2),)
    table = np.zeros((length, dim))
    table[:, 0::2] = np.sin(pos * freq)
    table[:, 1::2] = np.cos(pos * freq[: dim // 2])
    return table


def naive_sinusoidal_table(length: int, dim: int) -> np.ndarray:
    """Slow twin of `sinusoidal_table`, one entry at a time from the paper's formula."""
    table = np.zeros((length, dim))
    for p in range(length):
        for i in range(dim):
            angle = p / 10000.0 ** ((i - i % 2) / dim)
            table[p, i] = math.sin(angle) if i % 2 == 0 else math.cos(angle)
    return table


class SinusoidalPositional(Layer):
    """x (N, T, D) + fixed sinusoids for positions 0..T-1 (no parameters)."""

    def __init__(self, max_len: int, dim: int, *, dtype=np.float32) -> None:
        super().__init__()
        self.max_len, self.dim = max_len, dim
        self.table = sinusoidal_table(max_len, dim).astype(dtype)

    def forward(self, x, *, training=False):
        T = x.shape[1]
        if T > self.max_len:
            raise ValueError(f"sequence length {T} exceeds the positional table's {self.max_len}")
        return x + self.table[:T]

    def backward(self, dout):
        return dout


class LearnedPositional(Layer):
    """x (N, T, D) + a trained vector per position, `P` (max_len, D)."""

    def __init__(self, max_len: int, dim: int, *, rng: np.random.Generator, dtype=np.float32) -> None:
        super().__init__()
        self.max_len, self.dim = max_len, dim
        self.params = {"P": (rng.standard_normal((max_len, dim)) * 0.02).astype(dtype)}
        self.grads = {"P": np.zeros_like(self.params["P"])}

    def forward(self, x, *, training=False):
        T = x.shape[1]
        if T > self.max_len:
            raise ValueError(f"sequence length {T} exceeds the learned positions' {self.max_len}")
        self._T = T
        return x + self.params["P"][:T]

    def backward(self, dout):
        dP = self.grads["P"]
        dP[...] = 0.0
        dP[: self._T] = dout.sum(axis=0)
        return dout


POSITIONALS = {"sinusoidal": SinusoidalPositional, "learned": LearnedPositional}


def make_positional(kind: str, max_len: int, dim: int, *, rng: np.random.Generator, dtype=np.float32) -> Layer:
    """Build a sinusoidal or learned positional encoding by name."""
    if kind == "sinusoidal":
        return SinusoidalPositional(max_len, dim, dtype=dtype)
    if kind == "learned":
        return LearnedPositional(max_len, dim, rng=rng, dtype=dtype)
    raise ValueError(f"unknown positional encoding {kind!r}: choose sinusoidal or learned")
