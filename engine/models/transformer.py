"""A small Transformer encoder: token embedding + positional encoding -> encoder blocks -> head.

Classification (`per_token=False`): the head reads the mean of the final states over real (non-pad)
tokens. Sequence tasks of equal length (`per_token=True`: reverse, copy, sort): the head reads every
position, (N, T) -> (N, T, C); nothing is decoded step by step, so evaluation is teacher-free by design.
Padding tokens are masked out of every attention (keys) and out of the pooling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layers import Dense, Dropout, Embedding, TransformerEncoder, make_positional
from ..layers.transformer import Composite


@dataclass(frozen=True)
class TransformerConfig:
    vocab_size: int
    max_len: int
    d_model: int
    heads: int
    layers: int
    ffn: int
    out_features: int
    per_token: bool = False
    norm: str = "pre"             # pre | post
    positional: str = "sinusoidal"  # sinusoidal | learned
    dropout: float = 0.0
    causal: bool = False
    scaled: bool = True           # attention scores times 1/sqrt(d_model / heads)
    pad_id: int = 0


class TransformerModel(Composite):
    """Embedding, positions, dropout, `layers` encoder blocks, pooled or per-token Dense head."""

    def __init__(self, config: TransformerConfig, rng: np.random.Generator, dtype=np.float32) -> None:
        super().__init__()
        c = config
        if c.heads < 1 or c.d_model % c.heads:
            raise ValueError(f"heads ({c.heads}) must divide the model width d_model ({c.d_model})")
        self.per_token, self.pad_id = c.per_token, c.pad_id
        self.embed = Embedding(c.vocab_size, c.d_model, rng=rng, dtype=dtype)
        self.pos = make_positional(c.positional, c.max_len, c.d_model, rng=rng, dtype=dtype)
        self.drop = Dropout(c.dropout, rng=rng)
        self.encoder = TransformerEncoder(c.d_model, c.heads, c.ffn, c.layers, rng=rng, dtype=dtype, norm=c.norm,
                                          dropout=c.dropout, causal=c.causal, scaled=c.scaled)
        self.head = Dense(c.d_model, c.out_features, rng=rng, init="xavier", dtype=dtype)
        self.children = {"embed": self.embed, "pos": self.pos, "drop": self.drop, "encoder": self.encoder,
                         "head": self.head}

    def forward(self, x, *, training=False):
        """x (N, T) tokens -> logits (N, C), or (N, T, C) when per_token."""
        valid = x != self.pad_id
        key_mask = None if valid.all() else valid
        h = self.drop.forward(self.pos.forward(self.embed.forward(x)), training=training)
        h = self.encoder.forward(h, training=training, key_mask=key_mask)  # (N, T, D)
        if self.per_token:
            return self.head.forward(h, training=training)
        w = valid / np.maximum(valid.sum(axis=1, keepdims=True), 1)  # (N, T) pooling weights
        self._pool = w.astype(h.dtype)[:, :, None]
        return self.head.forward((h * self._pool).sum(axis=1), training=training)

    def backward(self, dout):
        dh = self.head.backward(dout)
        if not self.per_token:
            dh = self._pool * dh[:, None, :]  # (N, T, D)
        dh = self.encoder.backward(dh)
        return self.embed.backward(self.pos.backward(self.drop.backward(dh)))

    def attention_weights(self) -> list[np.ndarray]:
        """Per layer, the last forward's attention weights (N, heads, T, T)."""
        return self.encoder.attention_weights()


def build_transformer(config: TransformerConfig, rng: np.random.Generator, dtype=np.float32) -> TransformerModel:
    """Build a Transformer encoder classifier or per-token tagger from its config."""
    return TransformerModel(config, rng, dtype)
