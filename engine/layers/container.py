"""Sequential container: a model is a layer made of layers."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .activations import ReLU
from .base import Layer
from .pool import MaxPool2D


def pool_first_order(layers: list[Layer]) -> list[Layer]:
    """`layers` with every ReLU that feeds a 2x2-or-larger MaxPool2D moved after that pool.

    max and ReLU commute (ReLU is monotone and creates ties only at 0, where its gradient is 0),
    so the output and every gradient are unchanged, and the ReLU runs on the pooled map: a quarter
    of the work, forward and backward. Used in training only; evaluation and inspection run the
    layers as written, so each layer's own output stays what it says.
    """
    order = list(layers)
    for i in range(len(order) - 1):
        if type(order[i]) is ReLU and type(order[i + 1]) is MaxPool2D:
            order[i], order[i + 1] = order[i + 1], order[i]
    return order


class Sequential(Layer):
    """Run children in order; names parameters `layers.<i>.<name>`."""

    def __init__(self, layers: list[Layer], prefix: str = "layers") -> None:
        super().__init__()
        self.layers = layers
        self.prefix = prefix
        self._train_order = pool_first_order(layers)
        self._last_order = layers  # backward retraces the order of the latest forward

    def forward(self, x, *, training=False):
        order = self._train_order if training else self.layers
        self._last_order = order
        for layer in order:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dout):
        for layer in reversed(self._last_order):
            dout = layer.backward(dout)
        return dout

    def named_params(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for i, layer in enumerate(self.layers):
            yield from layer.named_params(f"{prefix}{self.prefix}.{i}.")

    def named_grads(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for i, layer in enumerate(self.layers):
            yield from layer.named_grads(f"{prefix}{self.prefix}.{i}.")

    def buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for i, layer in enumerate(self.layers):
            yield from layer.buffers(f"{prefix}{self.prefix}.{i}.")

    def set_rng(self, rng):
        for layer in self.layers:
            layer.set_rng(rng)

    @property
    def input_grad(self) -> bool:
        """Whether backward returns d/dx; False lets the first layer skip that work."""
        return getattr(self.layers[0], "input_grad", True)

    @input_grad.setter
    def input_grad(self, value: bool) -> None:
        if hasattr(self.layers[0], "input_grad"):
            self.layers[0].input_grad = value
