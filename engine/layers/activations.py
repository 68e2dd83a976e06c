"""Elementwise activations. Each caches its output (or mask) and writes in place where safe."""

from __future__ import annotations

import numpy as np

from .base import Layer


class ReLU(Layer):
    """max(x, 0), computed as x * (x > 0) + 0: faster than np.maximum, which checks for NaN.

    (The "+ 0" turns the -0.0 of negative inputs into 0.0.) The one difference: -inf maps to NaN
    instead of 0, and only a diverged run produces -inf.
    """

    def forward(self, x, *, training=False):
        self._mask = x > 0
        out = x * self._mask
        out += 0.0
        return out

    def backward(self, dout):
        return dout * self._mask


class LeakyReLU(Layer):
    """x for x > 0, slope * x otherwise (0 <= slope <= 1)."""

    def __init__(self, slope: float = 0.01) -> None:
        super().__init__()
        self.slope = slope

    def forward(self, x, *, training=False):
        # the local slope, 1 or `slope`, is the forward multiplier and the backward one
        self._factor = (x > 0) * np.asarray(1.0 - self.slope, dtype=x.dtype)
        self._factor += np.asarray(self.slope, dtype=x.dtype)
        return x * self._factor

    def backward(self, dout):
        return dout * self._factor


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
