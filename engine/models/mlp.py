"""Multi-layer perceptron: Dense -> activation -> dropout, repeated, then a Dense head."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layers import Dense, Dropout, Sequential, Sigmoid, make_activation


@dataclass(frozen=True)
class MLPConfig:
    in_features: int
    hidden: tuple[int, ...]
    out_features: int
    activation: str = "relu"
    init: str = "he"
    dropout: float = 0.0
    output_sigmoid: bool = False


def build_mlp(config: MLPConfig, rng: np.random.Generator, dtype=np.float32) -> Sequential:
    """Stack the hidden layers; `output_sigmoid` adds a final Sigmoid (for MSE on 0/1 targets)."""
    layers = []
    width = config.in_features
    for h in config.hidden:
        layers.append(Dense(width, h, rng=rng, init=config.init, dtype=dtype))
        layers.append(make_activation(config.activation))
        if config.dropout > 0:
            layers.append(Dropout(config.dropout, rng=rng))
        width = h
    head_init = "xavier" if config.init == "he" else config.init
    layers.append(Dense(width, config.out_features, rng=rng, init=head_init, dtype=dtype))
    if config.output_sigmoid:
        layers.append(Sigmoid())
    return Sequential(layers)
