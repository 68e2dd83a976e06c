"""Batch normalisation for dense (N, F) and convolutional (N, C, H, W) activations.

Training: normalise with the batch's mean and (biased) variance per feature/channel, then scale by
`gamma` and shift by `beta`; update running statistics (unbiased variance, momentum 0.1, as in
PyTorch). Evaluation: use the running statistics, so one sample gives the same answer alone or in a
batch.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .base import Layer


class BatchNorm(Layer):
    """BatchNorm over axis 1: features of (N, F) or channels of (N, C, H, W)."""

    def __init__(self, num_features: int, *, momentum: float = 0.1, eps: float = 1e-5,
                 dtype=np.float32) -> None:
        super().__init__()
        self.num_features, self.momentum, self.eps = num_features, momentum, eps
        self.params = {"gamma": np.ones(num_features, dtype=dtype), "beta": np.zeros(num_features, dtype=dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self.running_mean = np.zeros(num_features, dtype=dtype)
        self.running_var = np.ones(num_features, dtype=dtype)

    def buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        yield prefix + "running_mean", self.running_mean
        yield prefix + "running_var", self.running_var

    @staticmethod
    def _shape(x: np.ndarray) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """(reduction axes, broadcast shape of per-feature vectors) for x's rank."""
        if x.ndim == 2:
            return (0,), (1, x.shape[1])
        if x.ndim == 4:
            return (0, 2, 3), (1, x.shape[1], 1, 1)
        raise ValueError(f"BatchNorm takes (N, F) or (N, C, H, W), got shape {x.shape}")

    def forward(self, x, *, training=False):
        axes, bshape = self._shape(x)
        if x.shape[1] != self.num_features:
            raise ValueError(f"BatchNorm expects {self.num_features} features, got {x.shape[1]}")
        gamma, beta = self.params["gamma"].reshape(bshape), self.params["beta"].reshape(bshape)
        if training:
            m = x.size // x.shape[1]
            if m < 2:
                raise ValueError("BatchNorm in training mode needs more than one value per feature")
            mean = x.mean(axis=axes, keepdims=True)
            xc = x - mean
            var = np.mean(xc * xc, axis=axes, keepdims=True)
            inv_std = 1.0 / np.sqrt(var + self.eps)
            xhat = xc
            xhat *= inv_std
            mom = self.momentum
            self.running_mean *= 1 - mom
            self.running_mean += mom * mean.reshape(-1)
            self.running_var *= 1 - mom
            self.running_var += mom * var.reshape(-1) * (m / (m - 1))
            self._cache = (xhat, inv_std, axes, bshape, m)
            out = xhat * gamma
            out += beta
            return out
        inv_std = 1.0 / np.sqrt(self.running_var.reshape(bshape) + self.eps)
        xhat = x - self.running_mean.reshape(bshape)
        xhat *= inv_std
        self._cache = (xhat, inv_std, axes, bshape, 0)
        out = xhat * gamma
        out += beta
        return out

    def backward(self, dout):
        xhat, inv_std, axes, bshape, m = self._cache
        gamma = self.params["gamma"].reshape(bshape)
        dbeta = dout.sum(axis=axes, keepdims=True)
        dgamma = np.sum(dout * xhat, axis=axes, keepdims=True)
        self.grads["beta"][...] = dbeta.reshape(-1)
        self.grads["gamma"][...] = dgamma.reshape(-1)
        if m == 0:  # evaluation mode: statistics are constants, the layer is affine
            return dout * (inv_std * gamma)
        # dx = gamma/std * (dout - mean(dout) - xhat * mean(dout * xhat))
        dx = xhat * (dgamma / m)
        dx += dbeta / m
        np.subtract(dout, dx, out=dx)
        dx *= gamma * inv_std
        return dx
