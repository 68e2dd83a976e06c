"""Losses: `value(outputs, y)` is the mean loss, `grad(outputs, y)` its gradient w.r.t. outputs."""

from __future__ import annotations

import numpy as np

from .layers.activations import sigmoid


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Stable log-softmax over the last axis (log-sum-exp with the max subtracted)."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Stable softmax over the last axis."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    e /= e.sum(axis=-1, keepdims=True)
    return e


class SoftmaxCrossEntropy:
    """Cross-entropy of integer labels against logits; works on (N, C) or (N, T, C)."""

    name = "softmax_ce"

    def value(self, logits: np.ndarray, y: np.ndarray) -> float:
        lp = log_softmax(logits.astype(np.float64, copy=False))
        if lp.ndim == 2:  # plain fancy indexing: several times faster than take_along_axis
            return float(-lp[np.arange(len(y)), y].mean())
        picked = np.take_along_axis(lp, y[..., None].astype(np.intp), axis=-1)
        return float(-picked.mean())

    def grad(self, logits: np.ndarray, y: np.ndarray) -> np.ndarray:
        g = softmax(logits)
        n = y.size
        if g.ndim == 2:
            g[np.arange(len(y)), y] -= 1.0
        else:
            np.put_along_axis(g, y[..., None].astype(np.intp),
                              np.take_along_axis(g, y[..., None].astype(np.intp), axis=-1) - 1.0, axis=-1)
        g /= n
        return g

    def predict(self, logits: np.ndarray) -> np.ndarray:
        return logits.argmax(axis=-1)


class BinaryCrossEntropy:
    """Binary cross-entropy on logits (N, 1) against 0/1 labels, computed stably."""

    name = "bce"

    def value(self, logits, y):
        z = logits.reshape(-1).astype(np.float64)
        t = y.reshape(-1).astype(np.float64)
        return float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))))

    def grad(self, logits, y):
        t = y.reshape(logits.shape).astype(logits.dtype)
        return (sigmoid(logits) - t) / logits.size  # value() averages over every logit

    def predict(self, logits):
        return (logits.reshape(-1) > 0).astype(np.int64)


class MeanSquaredError:
    """MSE between sigmoid outputs and 0/1 targets (the series' XOR setting) or one-hot targets."""

    name = "mse"

    def _target(self, out, y):
        if out.shape[-1] == 1:
            return y.reshape(out.shape).astype(out.dtype)
        t = np.zeros_like(out)
        np.put_along_axis(t, y[..., None].astype(np.intp), 1.0, axis=-1)
        return t

    def value(self, out, y):
        d = out.astype(np.float64) - self._target(out, y)
        return float(np.mean(np.sum(d * d, axis=-1)) / 2.0)

    def grad(self, out, y):
        return (out - self._target(out, y)) / (out.size // out.shape[-1])  # value() averages over N (and T)

    def predict(self, out):
        if out.shape[-1] == 1:
            return (out.reshape(-1) > 0.5).astype(np.int64)
        return out.argmax(axis=-1)


LOSSES = {"softmax_ce": SoftmaxCrossEntropy, "bce": BinaryCrossEntropy, "mse": MeanSquaredError}


def make_loss(name: str):
    """Build a loss by its name in LOSSES."""
    try:
        return LOSSES[name]()
    except KeyError:
        raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(LOSSES)}") from None
