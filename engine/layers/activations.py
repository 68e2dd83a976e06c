"""Elementwise activations. Each caches its output (or mask) and writes in place where safe."""

from __future__ import annotations

import numpy as np

from .base import Layer


class ReLU(Layer):
    def forward(self, x, *, training=False):
        self._mask = x > 0
        return np.maximum(x, 0)

    def backward(self, dout):
        return dout * self._mask


class LeakyReLU(Layer):
    def __init__(self, slope: float = 0.01) -> None:
        super().__init__()
        self.slope = slope

    def forward(self, x, *, training=False):
        self._mask = x > 0
        return np.where(self._mask, x, x * self.slope)

    def backward(self, dout):
        return np.where(self._mask, dout, dout * self.slope)


class Sigmoid(Layer):
    def forward(self, x, *, training=False):
        self._y = sigmoid(x)
        return self._y

    def backward(self, dout):
        y = self._y
        return dout * y * (1.0 - y)


class Tanh(Layer):
    def forward(self, x, *, training=False):
        self._y = np.tanh(x)
        return self._y

    def backward(self, dout):
        y = self._y
        return dout * (1.0 - y * y)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Numerically stable logistic function (no overflow for large |x|)."""
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


ACTIVATIONS = {"relu": ReLU, "leaky_relu": LeakyReLU, "sigmoid": Sigmoid, "tanh": Tanh}


def make_activation(name: str) -> Layer:
    """Build an activation layer by its name in ACTIVATIONS."""
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ValueError(f"unknown activation {name!r}: choose one of {', '.join(ACTIVATIONS)}") from None
