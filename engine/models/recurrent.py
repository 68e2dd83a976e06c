"""Recurrent classifiers: embedding -> stacked RNN/LSTM/GRU layers -> a Dense head.

Many-to-one (`many_to_many=False`): the head reads the last step's hidden state, (N, T) -> (N, C).
Many-to-many: the head reads every step, (N, T) -> (N, T, C).
After a forward pass the top layer's per-step states are on the model (`last_hidden_states`, `last_gates`)
and `step_logits()` applies the head to every step: the per-word confidence trace of a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layers import Dense, Dropout, Embedding, Recurrent
from ..layers.transformer import Composite


@dataclass(frozen=True)
class RecurrentConfig:
    cell: str                # rnn | lstm | gru
    vocab_size: int          # 0: the input is already float features (N, T, in_features)
    in_features: int         # embedding width (or feature width when vocab_size == 0)
    hidden: int
    out_features: int
    layers: int = 1
    many_to_many: bool = False
    dropout: float = 0.0     # between stacked layers and before the head
    forget_bias: float = 1.0  # LSTM forget-gate bias at init (when chrono == 0)
    chrono: int = 0           # > 2: chrono-initialise LSTM/GRU keep gates for dependencies up to this length


class RecurrentModel(Composite):
    """Embedding (optional), `layers` Recurrent layers, dropout, Dense head."""

    def __init__(self, config: RecurrentConfig, rng: np.random.Generator, dtype=np.float32) -> None:
        super().__init__()
        c = config
        self.many_to_many = c.many_to_many
        self.children = {}
        self.embed = Embedding(c.vocab_size, c.in_features, rng=rng, dtype=dtype) if c.vocab_size else None
        if self.embed is not None:
            self.children["embed"] = self.embed
        self.rnns, width = [], c.in_features
        for i in range(c.layers):
            self.rnns.append(Recurrent(c.cell, width, c.hidden, rng=rng, dtype=dtype, forget_bias=c.forget_bias,
                                       chrono=c.chrono))
            self.children[f"rnn.{i}"] = self.rnns[-1]
            width = c.hidden
        self.drops = [Dropout(c.dropout, rng=rng) for _ in range(c.layers)]
        self.head = Dense(c.hidden, c.out_features, rng=rng, init="xavier", dtype=dtype)
        self.children["head"] = self.head

    def set_rng(self, rng):
        super().set_rng(rng)
        for d in self.drops:
            d.set_rng(rng)

    @property
    def input_grad(self) -> bool:
        """Whether backward returns d/dx for float inputs (token inputs have none: always False)."""
        return self.embed is None and self.rnns[0].input_grad

    @input_grad.setter
    def input_grad(self, value: bool) -> None:
        if self.embed is None:
            self.rnns[0].input_grad = value

    def forward(self, x, *, training=False):
        h = self.embed.forward(x) if self.embed is not None else x
        for i, (rnn, drop) in enumerate(zip(self.rnns, self.drops, strict=True)):
            h = rnn.forward(h, training=training)
            if i == len(self.rnns) - 1 and not self.many_to_many:
                h = h[:, -1]  # (N, H): the state after the last token
            h = drop.forward(h, training=training)
        return self.head.forward(h, training=training)

    def backward(self, dout):
        dh = self.head.backward(dout)
        top = True
        for rnn, drop in zip(reversed(self.rnns), reversed(self.drops), strict=True):
            dh = drop.backward(dh)
            if top and not self.many_to_many:
                # only the last step reached the head: its gradient enters as the final state's
                dh = rnn.backward(None, dstate=(dh,))
            else:
                dh = rnn.backward(dh)
            top = False
        return self.embed.backward(dh) if self.embed is not None else dh

    # inspection ---------------------------------------------------------------
    @property
    def last_hidden_states(self) -> np.ndarray:
        """(N, T, H) top-layer hidden states of the last forward pass."""
        return self.rnns[-1].last_hidden_states

    @property
    def last_gates(self) -> dict[str, np.ndarray]:
        """Top-layer gate values, name -> (N, T, H) (empty for the vanilla RNN)."""
        return self.rnns[-1].last_gates

    def hidden_states(self) -> list[np.ndarray]:
        """Every layer's (N, T, H) hidden states, bottom first."""
        return [r.last_hidden_states for r in self.rnns]

    def step_logits(self) -> np.ndarray:
        """The head applied to every step of the last forward pass: (N, T, C), what the model would answer
        if the sequence ended there."""
        p = self.head.params
        return self.last_hidden_states @ p["W"] + p["b"]


def build_recurrent(config: RecurrentConfig, rng: np.random.Generator, dtype=np.float32) -> RecurrentModel:
    """Build an RNN/LSTM/GRU classifier or tagger from its config."""
    if config.layers < 1:
        raise ValueError(f"layers must be >= 1, got {config.layers}")
    return RecurrentModel(config, rng, dtype)
