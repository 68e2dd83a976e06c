"""The Transformer encoder block (attention + feed-forward, each wrapped in LayerNorm and a residual)
and a stack of them. `Composite` is the small base for layers made of named children.

pre-norm:  x = x + drop(attn(LN1(x)));  x = x + drop(ffn(LN2(x)))     (a final LayerNorm after the stack)
post-norm: x = LN1(x + drop(attn(x)));  x = LN2(x + drop(ffn(x)))     (the original Transformer)
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from .activations import ReLU
from .attention import MultiHeadAttention
from .base import Layer
from .container import Sequential
from .dense import Dense
from .dropout import Dropout
from .layernorm import LayerNorm

NORMS = ("pre", "post")


class Composite(Layer):
    """A layer made of named children (`self.children`, in order); parameters are `<child>.<name>`."""

    children: dict[str, Layer]

    def named_params(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        yield from ((prefix + n, p) for n, p in self.params.items())
        for name, child in self.children.items():
            yield from child.named_params(f"{prefix}{name}.")

    def named_grads(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        yield from ((prefix + n, self.grads[n]) for n in self.params)
        for name, child in self.children.items():
            yield from child.named_grads(f"{prefix}{name}.")

    def buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for name, child in self.children.items():
            yield from child.buffers(f"{prefix}{name}.")

    def set_rng(self, rng):
        for child in self.children.values():
            child.set_rng(rng)


class EncoderBlock(Composite):
    """Self-attention and a ReLU feed-forward of width `ffn`, each with LayerNorm and a residual.

    With `input_grad = False` backward fills every parameter gradient but returns None, skipping the
    work only d/dx needs: LN1's dx in pre-norm, the attention's dx in post-norm (where it reads x).
    """

    def __init__(self, d_model: int, heads: int, ffn: int, *, rng: np.random.Generator, dtype=np.float32,
                 norm: str = "pre", dropout: float = 0.0, causal: bool = False, scaled: bool = True) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be pre or post, got {norm!r}")
        self.norm = norm
        self.attn = MultiHeadAttention(d_model, heads, rng=rng, dtype=dtype, causal=causal, scaled=scaled)
        self.ln1 = LayerNorm(d_model, dtype=dtype)
        self.ffn = Sequential([Dense(d_model, ffn, rng=rng, init="he", dtype=dtype), ReLU(),
                               Dense(ffn, d_model, rng=rng, init="xavier", dtype=dtype)])
        self.ln2 = LayerNorm(d_model, dtype=dtype)
        self.drop1, self.drop2 = Dropout(dropout, rng=rng), Dropout(dropout, rng=rng)
        self.children = {"attn": self.attn, "ln1": self.ln1, "ffn": self.ffn, "ln2": self.ln2,
                         "drop1": self.drop1, "drop2": self.drop2}
        self._input_grad = True

    @property
    def input_grad(self) -> bool:
        return self._input_grad

    @input_grad.setter
    def input_grad(self, value: bool) -> None:
        self._input_grad = value
        if self.norm == "pre":
            self.ln1.input_grad = value
        else:
            self.attn.input_grad = value

    def forward(self, x, *, training=False, key_mask=None):
        """x (N, T, D) -> (N, T, D); key_mask (N, T) True for real tokens."""
        t = training
        if self.norm == "pre":
            a = self.attn.forward(self.ln1.forward(x, training=t), training=t, key_mask=key_mask)
            x = x + self.drop1.forward(a, training=t)
            f = self.ffn.forward(self.ln2.forward(x, training=t), training=t)
            return x + self.drop2.forward(f, training=t)
        a = self.attn.forward(x, training=t, key_mask=key_mask)
        x = self.ln1.forward(x + self.drop1.forward(a, training=t), training=t)
        f = self.ffn.forward(x, training=t)
        return self.ln2.forward(x + self.drop2.forward(f, training=t), training=t)

    def backward(self, dout):
        if self.norm == "pre":
            dx = dout + self.ln2.backward(self.ffn.backward(self.drop2.backward(dout)))
            da = self.ln1.backward(self.attn.backward(self.drop1.backward(dx)))
            return dx + da if self._input_grad else None
        d = self.ln2.backward(dout)
        d = d + self.ffn.backward(self.drop2.backward(d))
        d = self.ln1.backward(d)
        da = self.attn.backward(self.drop1.backward(d))
        return d + da if self._input_grad else None


class TransformerEncoder(Composite):
    """`layers` encoder blocks; pre-norm stacks end with a LayerNorm (`ln_f`)."""

    def __init__(self, d_model: int, heads: int, ffn: int, layers: int, *, rng: np.random.Generator,
                 dtype=np.float32, norm: str = "pre", dropout: float = 0.0, causal: bool = False,
                 scaled: bool = True) -> None:
        super().__init__()
        self.blocks = [EncoderBlock(d_model, heads, ffn, rng=rng, dtype=dtype, norm=norm, dropout=dropout,
                                    causal=causal, scaled=scaled) for _ in range(layers)]
        self.children = {f"blocks.{i}": b for i, b in enumerate(self.blocks)}
        self.ln_f = LayerNorm(d_model, dtype=dtype) if norm == "pre" else None
        if self.ln_f is not None:
            self.children["ln_f"] = self.ln_f

    @property
    def input_grad(self) -> bool:
        return self.blocks[0].input_grad

    @input_grad.setter
    def input_grad(self, value: bool) -> None:
        self.blocks[0].input_grad = value

    def forward(self, x, *, training=False, key_mask=None):
        for block in self.blocks:
            x = block.forward(x, training=training, key_mask=key_mask)
        return x if self.ln_f is None else self.ln_f.forward(x, training=training)

    def backward(self, dout):
        if self.ln_f is not None:
            dout = self.ln_f.backward(dout)
        for block in reversed(self.blocks):
            dout = block.backward(dout)
        return dout

    def attention_weights(self) -> list[np.ndarray]:
        """Per block, the last forward's attention weights (N, heads, T, T)."""
        return [b.attn.last_weights for b in self.blocks]
