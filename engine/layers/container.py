"""Sequential container: a model is a layer made of layers."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .base import Layer


class Sequential(Layer):
    """Run children in order; names parameters `layers.<i>.<name>`."""

    def __init__(self, layers: list[Layer], prefix: str = "layers") -> None:
        super().__init__()
        self.layers = layers
        self.prefix = prefix

    def forward(self, x, *, training=False):
        for layer in self.layers:
            x = layer.forward(x, training=training)
        return x

    def backward(self, dout):
        for layer in reversed(self.layers):
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
