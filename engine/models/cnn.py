"""A small convolutional network, and its fully connected twin for the "FC vs CNN" comparison.

Layout: for each entry c of `channels`: Conv2D(c, kernel, stride, padding) -> [BatchNorm] ->
activation -> pool_size x pool_size pool (stride pool_size, floor mode; default 2x2). No pool layer
when pool_size is 1 or once the feature map is 1 pixel wide (nothing left to pool); a map wider than
1 pixel but narrower than the pool is refused. Then Flatten -> for each h of `hidden`: Dense(h) ->
activation -> [Dropout] -> Dense head. Spec validation mirrors this shape arithmetic, so a kernel or a
pool larger than its input is refused before a run starts.
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
    pool_size: int = 2  # added later: saved configs without it load with 2, the size they were built with
    hidden: tuple[int, ...] = ()
    activation: str = "relu"
    init: str = "he"
    dropout: float = 0.0
    batchnorm: bool = False


def pools_after(oh: int, ow: int, pool_size: int) -> bool:
    """Whether a conv stage with an (oh, ow) output gets a pool layer (see the module docstring)."""
    return pool_size > 1 and min(oh, ow) > 1


def feature_shapes(config: CNNConfig) -> list[tuple[int, int, int]]:
    """(C, H, W) after each conv stage (conv then pool); raises if a kernel or a pool outgrows its input."""
    if config.pool_size < 1:
        raise ValueError(f"pool size must be >= 1, got {config.pool_size}")
    c, h, w = config.in_channels, config.height, config.width
    shapes = []
    for i, out_c in enumerate(config.channels):
        oh = conv_output_size(h, config.kernel, config.stride, config.padding)
        ow = conv_output_size(w, config.kernel, config.stride, config.padding)
        if oh < 1 or ow < 1:
            raise ValueError(f"kernel {config.kernel} is larger than the {h}x{w} input of conv layer {i + 1} "
                             f"(padding {config.padding})")
        h, w, c = oh, ow, out_c
        if pools_after(oh, ow, config.pool_size):
            k = config.pool_size
            if min(oh, ow) < k:
                raise ValueError(f"pool size {k} is larger than the {oh}x{ow} feature map of conv layer {i + 1}")
            h, w = oh // k, ow // k
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
        if pools_after(oh, ow, config.pool_size):
            k = config.pool_size
            layers.append(MaxPool2D(k) if config.pool == "max" else AvgPool2D(k))
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

