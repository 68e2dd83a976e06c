"""Model configs and the one factory, `build_model(config, rng)`.

Each family module defines a frozen config dataclass and a builder; `BUILDERS` maps config type to
builder, and `config_from_spec` turns a run spec plus its data set into the right config.
"""

from __future__ import annotations

import numpy as np

from ..data import Dataset
from ..spec import ExperimentSpec
from .cnn import CNNConfig, build_cnn
from .mlp import MLPConfig, build_mlp
from .perceptron import PerceptronConfig, build_perceptron
from .resnet import ResNetConfig, build_resnet

BUILDERS = {MLPConfig: build_mlp, PerceptronConfig: build_perceptron, CNNConfig: build_cnn,
            ResNetConfig: build_resnet}


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
    """'auto' picks softmax cross-entropy; MSE keeps a sigmoid output (the series' XOR setting).

    The perceptron learns by its own rule; its 0/1 outputs are scored with MSE (half the error rate).
    """
    if spec.model == "perceptron":
        return "mse"
    return "softmax_ce" if spec.loss == "auto" else spec.loss


def config_from_spec(spec: ExperimentSpec, data: Dataset):
    """The architecture config a spec asks for, sized to the data set."""
    loss = resolve_loss(spec, data)
    out = 1 if loss in ("bce",) or (loss == "mse" and data.n_classes == 2) else data.n_classes
    if spec.model == "mlp":
        return MLPConfig(in_features=int(np.prod(data.input_shape)), hidden=spec.hidden, out_features=out,
                         activation=spec.activation, init=spec.init, dropout=spec.dropout,
                         output_sigmoid=loss == "mse")
    if spec.model == "perceptron":
        return PerceptronConfig(in_features=int(np.prod(data.input_shape)))
    if spec.model == "cnn":
        c, h, w = data.input_shape
        return CNNConfig(in_channels=c, height=h, width=w, out_features=out, channels=spec.channels,
                         kernel=spec.kernel, stride=spec.stride, padding=spec.padding, pool=spec.pool,
                         hidden=spec.hidden, activation=spec.activation, init=spec.init, dropout=spec.dropout,
                         batchnorm=spec.batchnorm)
    if spec.model == "resnet":
        return ResNetConfig(in_features=int(np.prod(data.input_shape)), out_features=out, depth=spec.depth,
                            width=spec.hidden[0], residual=spec.residual, batchnorm=spec.batchnorm,
                            activation=spec.activation, init=spec.init)
    raise ValueError(f"model {spec.model!r} is not available yet")


__all__ = ["BUILDERS", "CNNConfig", "MLPConfig", "PerceptronConfig", "ResNetConfig", "build_model",
           "config_from_spec", "resolve_loss"]
