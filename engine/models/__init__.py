"""Model configs and the one factory, `build_model(config, rng)`.

Each family module defines a frozen config dataclass and a builder; `BUILDERS` maps config type to
builder, and `config_from_spec` turns a run spec plus its data set into the right config.
"""

from __future__ import annotations

import numpy as np

from ..data import Dataset
from ..spec import ExperimentSpec
from .mlp import MLPConfig, build_mlp

BUILDERS = {MLPConfig: build_mlp}


def build_model(config, rng: np.random.Generator, dtype=np.float32):
    """Build the model a config describes, its weights drawn from `rng`."""
    try:
        builder = BUILDERS[type(config)]
    except KeyError:
        raise ValueError(f"no builder for {type(config).__name__}") from None
    model = builder(config, rng, dtype=dtype)
    model.config = config
    model.set_rng(rng)
    return model


def resolve_loss(spec: ExperimentSpec, data: Dataset) -> str:
    """'auto' picks softmax cross-entropy; MSE keeps a sigmoid output (the series' XOR setting)."""
    return "softmax_ce" if spec.loss == "auto" else spec.loss


def config_from_spec(spec: ExperimentSpec, data: Dataset):
    """The architecture config a spec asks for, sized to the data set."""
    loss = resolve_loss(spec, data)
    out = 1 if loss in ("bce",) or (loss == "mse" and data.n_classes == 2) else data.n_classes
    if spec.model == "mlp":
        return MLPConfig(in_features=int(np.prod(data.input_shape)), hidden=spec.hidden, out_features=out,
                         activation=spec.activation, init=spec.init, dropout=spec.dropout,
                         output_sigmoid=loss == "mse")
    raise ValueError(f"model {spec.model!r} is not available yet")


__all__ = ["BUILDERS", "MLPConfig", "build_model", "config_from_spec", "resolve_loss"]
