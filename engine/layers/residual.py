"""A residual block: out = act(body(x) + x). With `skip=False` it is the plain twin, act(body(x)).

The identity path adds 1 to the block's Jacobian (d out / d x = act' * (body' + 1)), which is why
gradients still reach the first layers of a deep residual stack.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .activations import make_activation
from .base import Layer


class Residual(Layer):
    """Wrap `body` (same input and output shape) with an identity shortcut and an optional activation."""

    def __init__(self, body: Layer, *, activation: str | None = "relu", skip: bool = True) -> None:
        super().__init__()
        self.body = body
        self.skip = skip
        self.act = make_activation(activation) if activation else None

    def forward(self, x, *, training=False):
        out = self.body.forward(x, training=training)
        if self.skip:
            if out.shape != x.shape:
                raise ValueError(f"residual body changed the shape {x.shape} -> {out.shape}")
            out = out + x
        if self.act is not None:
            out = self.act.forward(out, training=training)
        return out

    def backward(self, dout):
        if self.act is not None:
            dout = self.act.backward(dout)
        if not self.skip:
            return self.body.backward(dout)
        dx = self.body.backward(dout.copy())  # layers may overwrite their upstream gradient
        dx += dout
        return dx

    def named_params(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        yield from self.body.named_params(prefix + "body.")

    def named_grads(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        yield from self.body.named_grads(prefix + "body.")

    def buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        yield from self.body.buffers(prefix + "body.")

    def set_rng(self, rng):
        self.body.set_rng(rng)
