"""A small convolutional network, and its fully connected twin for the "FC vs CNN" comparison.

Layout: for each entry c of `channels`: Conv2D(c, kernel, stride, padding) -> [BatchNorm] ->
activation -> 2x2 pool (skipped once the feature map is 1 pixel wide). Then Flatten -> for each h
of `hidden`: Dense(h) -> activation -> [Dropout] -> Dense head. Spec validation mirrors this shape
arithmetic, so a kernel larger than the input is refused before a run starts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..layers import AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D, Sequential, make_activation
from ..layers.conv import conv_output_size


@dataclass(frozen=True)
class CNNConfig:
    in_channels: int
    height: int
    width: int
    out_features: int
    channels: tuple[int, ...] = (8, 16)
    kernel: int = 3
    stride: int = 1
    padding: int = 1
    pool: str = "max"
    hidden: tuple[int, ...] = ()
    activation: str = "relu"
    init: str = "he"
    dropout: float = 0.0
    batchnorm: bool = False


def feature_shapes(config: CNNConfig) -> list[tuple[int, int, int]]:
    """(C, H, W) after each conv stage (conv then pool); raises if a kernel outgrows its input."""
    c, h, w = config.in_channels, config.height, config.width
    shapes = []
    for i, out_c in enumerate(config.channels):
        oh = conv_output_size(h, config.kernel, config.stride, config.padding)
        ow = conv_output_size(w, config.kernel, config.stride, config.padding)
        if oh < 1 or ow < 1:
            raise ValueError(f"kernel {config.kernel} is larger than the {h}x{w} input of conv layer {i + 1} "
                             f"(padding {config.padding})")
        h, w, c = (oh // 2, ow // 2, out_c) if min(oh, ow) >= 2 else (oh, ow, out_c)
        shapes.append((c, h, w))
    return shapes


def build_cnn(config: CNNConfig, rng: np.random.Generator, dtype=np.float32) -> Sequential:
    """Conv stages, then dense layers, then a linear head producing `out_features` logits."""
    if config.pool not in ("max", "avg"):
        raise ValueError(f"unknown pool {config.pool!r}: choose max or avg")
    layers = []
    c, h, w = config.in_channels, config.height, config.width
    for out_c, (_, nh, nw) in zip(config.channels, feature_shapes(config)):
        layers.append(Conv2D(c, out_c, config.kernel, stride=config.stride, padding=config.padding,
                             rng=rng, init=config.init, dtype=dtype))
        if config.batchnorm:
            layers.append(BatchNorm(out_c, dtype=dtype))
        layers.append(make_activation(config.activation))
        oh = conv_output_size(h, config.kernel, config.stride, config.padding)
        ow = conv_output_size(w, config.kernel, config.stride, config.padding)
        if min(oh, ow) >= 2:
            layers.append(MaxPool2D(2) if config.pool == "max" else AvgPool2D(2))
        c, h, w = out_c, nh, nw
    layers.append(Flatten())
    width = c * h * w
    for hid in config.hidden:
        layers.append(Dense(width, hid, rng=rng, init=config.init, dtype=dtype))
        layers.append(make_activation(config.activation))
        if config.dropout > 0:
            layers.append(Dropout(config.dropout, rng=rng))
        width = hid
    head_init = "xavier" if config.init == "he" else config.init
    layers.append(Dense(width, config.out_features, rng=rng, init=head_init, dtype=dtype))
    return Sequential(layers)


def fc_twin(config: CNNConfig, hidden: tuple[int, ...] | None = None):
    """The MLPConfig a "FC vs CNN" comparison pairs with `config`: same input, same classes."""
    from .mlp import MLPConfig

    fc_hidden = hidden if hidden is not None else (config.hidden or (128,))
    return MLPConfig(in_features=config.in_channels * config.height * config.width, hidden=tuple(fc_hidden),
                     out_features=config.out_features, activation=config.activation, init=config.init,
                     dropout=config.dropout)


def parameter_counts(config: CNNConfig, fc_hidden: tuple[int, ...] | None = None) -> dict[str, int]:
    """{"cnn": n, "fc": n} parameter counts of a CNN and its fully connected twin, built on the fly."""
    from . import build_model

    rng = np.random.default_rng(0)
    cnn = build_model(config, rng)
    fc = build_model(fc_twin(config, fc_hidden), rng)
    return {"cnn": cnn.num_params(), "fc": fc.num_params()}

