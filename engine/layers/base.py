"""The layer interface every engine layer and model meets."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class Layer:
    """A differentiable block: `forward` caches what `backward` needs.

    `params` and `grads` share keys and shapes. Containers override `named_params`
    and `named_grads` to prefix their children's names ("layers.0.W").
    """

    params: dict[str, np.ndarray]
    grads: dict[str, np.ndarray]

    def __init__(self) -> None:
        self.params = {}
        self.grads = {}

    def forward(self, x: np.ndarray, *, training: bool = False) -> np.ndarray:
        raise NotImplementedError

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def named_params(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Yield (dotted name, array) for every trainable parameter."""
        for name, value in self.params.items():
            yield prefix + name, value

    def named_grads(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Yield (dotted name, gradient) in the same order as `named_params`."""
        for name in self.params:
            yield prefix + name, self.grads[name]

    def zero_grads(self) -> None:
        for _, g in self.named_grads():
            g[...] = 0.0

    def set_rng(self, rng: np.random.Generator) -> None:
        """Give stochastic layers (dropout) the run's generator; others ignore it."""

    def num_params(self) -> int:
        return int(sum(p.size for _, p in self.named_params()))

    def buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        """Non-trainable state saved with the weights (BatchNorm running stats)."""
        return iter(())


def init_weight(
    rng: np.random.Generator, fan_in: int, fan_out: int, shape: tuple[int, ...], init: str, dtype
) -> np.ndarray:
    """Draw a weight tensor: 'normal' (N(0, 0.01^2)), 'xavier' (Glorot) or 'he'."""
    if init == "normal":
        std = 0.01
    elif init == "xavier":
        std = np.sqrt(2.0 / (fan_in + fan_out))
    elif init == "he":
        std = np.sqrt(2.0 / fan_in)
    else:
        raise ValueError(f"unknown init {init!r}: choose normal, xavier or he")
    return (rng.standard_normal(shape) * std).astype(dtype)
