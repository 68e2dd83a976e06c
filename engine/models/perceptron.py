"""Rosenblatt's perceptron: a weighted sum, a step, and the classic error-driven learning rule.

For each sample (in the shuffled order of the batch): y_hat = step(x . w + b), then
w += lr * (y - y_hat) * x and b += lr * (y - y_hat). Nothing moves when the answer is right.
It separates classes with one straight line, so it learns AND, OR and NAND and never gets more
than 3 of XOR's 4 points right. `epoch_metrics()` reports how many samples it got wrong in the last
epoch and whether any epoch was error-free, so a run records that it converged (or did not).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layers.base import Layer


@dataclass(frozen=True)
class PerceptronConfig:
    in_features: int = 2


class Perceptron(Layer):
    """One threshold unit; `forward` returns the 0/1 decisions as (N, 1) floats."""

    def __init__(self, in_features: int, *, rng: np.random.Generator, dtype=np.float32) -> None:
        super().__init__()
        self.in_features = in_features
        self.params = {"W": (rng.standard_normal((in_features, 1)) * 0.01).astype(dtype),
                       "b": np.zeros(1, dtype=dtype)}
        self.grads = {k: np.zeros_like(v) for k, v in self.params.items()}
        self._errors = 0
        self._seen = 0
        self.converged = False

    def forward(self, x, *, training=False):
        z = x @ self.params["W"] + self.params["b"]
        return (z > 0).astype(self.params["W"].dtype)  # (N, 1)

    def backward(self, dout):
        raise NotImplementedError("the perceptron's step has no useful gradient; it learns with train_batch")

    def train_batch(self, xb: np.ndarray, yb: np.ndarray, lr: float) -> float:
        """Apply the perceptron rule sample by sample; return half the batch's error rate (an MSE)."""
        W, b = self.params["W"][:, 0], self.params["b"]
        wrong = 0
        for x, y in zip(xb, yb):
            y_hat = 1.0 if float(x @ W + b[0]) > 0 else 0.0
            err = float(y) - y_hat
            if err:
                W += lr * err * x
                b += lr * err
                wrong += 1
        self._errors += wrong
        self._seen += len(xb)
        return 0.5 * wrong / max(len(xb), 1)

    def extra_state(self) -> dict:
        """What a checkpoint keeps besides the weights: whether an epoch was error-free (taken between epochs,
        when the error counts are zero)."""
        return {"converged": self.converged}

    def load_extra_state(self, state: dict) -> None:
        self.converged = bool(state["converged"])
        self._errors = self._seen = 0

    def epoch_metrics(self) -> dict[str, float]:
        """Mistakes made during the epoch that just ended (then reset); 1.0 once an epoch had none."""
        errors, seen = self._errors, self._seen
        self._errors = self._seen = 0
        if seen and errors == 0:
            self.converged = True
        return {"perceptron_errors": float(errors), "perceptron_converged": float(self.converged)}


def build_perceptron(config: PerceptronConfig, rng: np.random.Generator, dtype=np.float32) -> Perceptron:
    """A perceptron for `config.in_features` inputs (binary labels 0/1)."""
    return Perceptron(config.in_features, rng=rng, dtype=dtype)
