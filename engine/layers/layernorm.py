"""Layer normalisation: normalise each sample's features (the last axis), then scale and shift.

Unlike batch norm it needs no batch statistics, so it behaves the same for any batch size or
sequence length, and at training and evaluation time.
"""

from __future__ import annotations

import numpy as np

from .base import Layer


def _row_mean(a: np.ndarray) -> np.ndarray:
    """Mean over the last axis, keepdims, as one matrix-vector product (fast for short rows)."""
    F = a.shape[-1]
    return (a.reshape(-1, F) @ np.full((F, 1), 1.0 / F, dtype=a.dtype)).reshape(a.shape[:-1] + (1,))


class LayerNorm(Layer):
    """y = gamma * (x - mean) / sqrt(var + eps) + beta over the last axis of width `features`.

    With `input_grad = False` backward fills the gamma/beta gradients only and returns None.
    """

    input_grad = True

    def __init__(self, features: int, *, eps: float = 1e-5, dtype=np.float32) -> None:
        super().__init__()
        self.features, self.eps = features, eps
        self.params = {"gamma": np.ones(features, dtype=dtype), "beta": np.zeros(features, dtype=dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}

    def forward(self, x, *, training=False):
        xc = x - _row_mean(x)
        var = _row_mean(xc * xc)
        var += self.eps
        self._inv_std = 1.0 / np.sqrt(var, out=var)
        self._xhat = xc
        self._xhat *= self._inv_std  # (..., F)
        out = self._xhat * self.params["gamma"]
        out += self.params["beta"]
        return out

    def backward(self, dout):
        xhat, F = self._xhat, self.features
        d2, x2 = dout.reshape(-1, F), xhat.reshape(-1, F)
        np.einsum("nf,nf->f", d2, x2, out=self.grads["gamma"])
        np.sum(d2, axis=0, out=self.grads["beta"])
        if not self.input_grad:
            return None
        dxhat = dout * self.params["gamma"]
        # dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
        proj = np.einsum("...f,...f->...", dxhat, xhat)[..., None]
        proj *= 1.0 / F
        dx = dxhat - _row_mean(dxhat)
        dx -= xhat * proj
        dx *= self._inv_std
        return dx
