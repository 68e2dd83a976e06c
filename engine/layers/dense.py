"""Fully connected layer: y = x W + b."""

from __future__ import annotations

import numpy as np

from .base import Layer, init_weight


class Dense(Layer):
    """Affine map from `in_features` to `out_features`; accepts (N, F) or (N, T, F).

    `input_grad = False` (set by the trainer on a model's first layer) skips dx = dout W^T, a
    third of the layer's backward work that nobody needs for the data itself.
    """

    input_grad = True

    def __init__(self, in_features: int, out_features: int, *, rng: np.random.Generator,
                 init: str = "he", dtype=np.float32) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.params = {
            "W": init_weight(rng, in_features, out_features, (in_features, out_features), init, dtype),
            "b": np.zeros(out_features, dtype=dtype),
        }
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._x: np.ndarray | None = None

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        self._x = x
        out = x @ self.params["W"]
        out += self.params["b"]
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        x2 = self._x.reshape(-1, self.in_features)
        d2 = dout.reshape(-1, self.out_features)
        np.matmul(x2.T, d2, out=self.grads["W"])
        np.sum(d2, axis=0, out=self.grads["b"])
        if not self.input_grad:
            return None
        return dout @ self.params["W"].T
