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
from .recurrent import RecurrentConfig, build_recurrent
from .resnet import ResNetConfig, build_resnet
from .seq2seq import Seq2SeqConfig, build_seq2seq
from .transformer import TransformerConfig, build_transformer

BUILDERS = {MLPConfig: build_mlp, PerceptronConfig: build_perceptron, CNNConfig: build_cnn,
            ResNetConfig: build_resnet, RecurrentConfig: build_recurrent, Seq2SeqConfig: build_seq2seq,
            TransformerConfig: build_transformer}


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
                         pool_size=spec.pool_size, hidden=spec.hidden, activation=spec.activation, init=spec.init, dropout=spec.dropout,
                         batchnorm=spec.batchnorm)
    if spec.model == "resnet":
        return ResNetConfig(in_features=int(np.prod(data.input_shape)), out_features=out, depth=spec.depth,
                            width=spec.hidden[0], residual=spec.residual, batchnorm=spec.batchnorm,
                            activation=spec.activation, init=spec.init)
    if spec.model in ("rnn", "lstm", "gru", "seq2seq", "transformer"):
        return _sequence_config(spec, data, out)
    raise ValueError(f"model {spec.model!r} is not available yet")


def _sequence_config(spec: ExperimentSpec, data: Dataset, out: int):
    """rnn/lstm/gru: embedding width = hidden size = hidden[0], gates chrono-initialised for seq_len (what
    lets LSTM/GRU learn the long-range memory task quickly); seq2seq: the same for encoder and decoder;
    transformer: d_model wide, feed-forward hidden[0] wide. Padding masks follow the pad token."""
    width = spec.hidden[0]
    if spec.model in ("rnn", "lstm", "gru"):
        return RecurrentConfig(cell=spec.model, vocab_size=data.vocab_size, in_features=width, hidden=width,
                               out_features=out, layers=spec.layers, many_to_many=data.task == "seq2seq",
                               dropout=spec.dropout, chrono=data.input_shape[0])
    if spec.model == "seq2seq":
        return Seq2SeqConfig(vocab_size=data.vocab_size, embed_dim=width, hidden=width, out_features=out,
                             attention=spec.attention, layers=spec.layers, dropout=spec.dropout,
                             bos_id=data.meta.get("bos_id", 1), pad_id=data.meta.get("pad_id", 0))
    return TransformerConfig(vocab_size=data.vocab_size, max_len=data.input_shape[0], d_model=spec.d_model,
                             heads=spec.heads, layers=spec.layers, ffn=width, out_features=out,
                             per_token=data.task == "seq2seq", norm=spec.norm, positional=spec.positional,
                             dropout=spec.dropout, pad_id=data.meta.get("pad_id", 0), causal=spec.causal,
                             scaled=spec.scaled)


__all__ = ["BUILDERS", "CNNConfig", "MLPConfig", "PerceptronConfig", "RecurrentConfig", "ResNetConfig",
           "Seq2SeqConfig", "TransformerConfig", "build_model",
           "config_from_spec", "resolve_loss"]
