"""CNN views: the first layer's filters and the feature maps of every conv layer for a few probe images."""

from __future__ import annotations

import numpy as np

from .walk import leaf_layers

ACTIVATION_KINDS = ("ReLU", "LeakyReLU", "Sigmoid", "Tanh")
FEATURE_MAP_IMAGES = 4


def first_filters(model) -> tuple[str, np.ndarray] | None:
    """(name, W) of the first 4-D weight (F, C, KH, KW), or None for a model without convolutions."""
    for name, p in model.named_params():
        if p.ndim == 4:
            return name, p
    return None


def feature_map_taps(model) -> list[tuple[str, str]]:
    """(conv layer, tapped layer) pairs: each Conv2D's map is read after the activation that follows it
    (before any pooling), or straight from the conv when no activation comes before the next conv."""
    leaves = leaf_layers(model)
    taps = []
    for i, (name, layer) in enumerate(leaves):
        if type(layer).__name__ != "Conv2D":
            continue
        tap = name
        for later, nxt in leaves[i + 1:]:
            kind = type(nxt).__name__
            if kind in ("Conv2D", "MaxPool2D", "AvgPool2D", "Flatten", "Dense"):
                break
            if kind in ACTIVATION_KINDS:
                tap = later
                break
        taps.append((name, tap))
    return taps
