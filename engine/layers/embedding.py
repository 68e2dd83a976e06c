"""Token embedding: a lookup table whose rows are trained like any weight."""

from __future__ import annotations

import numpy as np

from .base import Layer


class Embedding(Layer):
    """Map integer tokens (N, T) to vectors (N, T, D) by row lookup in `W` (vocab_size, D)."""

    def __init__(self, vocab_size: int, dim: int, *, rng: np.random.Generator, dtype=np.float32) -> None:
        super().__init__()
        self.vocab_size, self.dim = vocab_size, dim
        self.params = {"W": rng.standard_normal((vocab_size, dim)).astype(dtype)}  # N(0, 1), as PyTorch
        self.grads = {"W": np.zeros_like(self.params["W"])}
        self._tokens: np.ndarray | None = None

    def forward(self, x, *, training=False):
        self._tokens = np.asarray(x, dtype=np.intp)
        return self.params["W"][self._tokens]

    def backward(self, dout):
        """Scatter-add `dout` into the rows that were looked up. Tokens have no gradient: returns None."""
        dW = self.grads["W"]
        dW[...] = 0.0
        np.add.at(dW, self._tokens.reshape(-1), dout.reshape(-1, self.dim))
        return None
