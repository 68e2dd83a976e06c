"""Seq2seq gradients and decoding; every sequence model built from a spec and trained by the Trainer."""

import io

import numpy as np
import pytest

from engine.experiment import prepare, run_training
from engine.layers.base import Layer
from engine.models import Seq2SeqConfig, build_model, config_from_spec
from engine.models.io import load_model, save_model
from engine.spec import parse_spec
from tests.engine.gradcheck import check_layer_gradients

V, N, S = 7, 3, 5


class TeacherForced(Layer):
    """The seq2seq training pass (forward_train with fixed targets) as a plain layer."""

    def __init__(self, model, targets):
        super().__init__()
        self.model, self.targets = model, targets

    def forward(self, x, *, training=False):
        return self.model.forward_train(x, self.targets)

    def backward(self, dout):
        return self.model.backward(dout)

    def named_params(self, prefix=""):
        return self.model.named_params(prefix)

    def named_grads(self, prefix=""):
        return self.model.named_grads(prefix)


def _seq2seq(rng, **kw):
    config = Seq2SeqConfig(**{**dict(vocab_size=V, embed_dim=3, hidden=4, out_features=V), **kw})
    return build_model(config, rng, dtype=np.float64)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("attention", ["none", "additive", "dot"])
def test_seq2seq_teacher_forced_gradients(cell, attention):
    rng = np.random.default_rng(0)
    model = _seq2seq(rng, cell=cell, attention=attention)
    x, y = rng.integers(2, V, (N, S)), rng.integers(2, V, (N, S))
    x[0, -2:] = 0  # padding: masked out of the attention
    errors = check_layer_gradients(TeacherForced(model, y), x, rng=rng, check_input=False)
    assert {"enc_embed.W", "dec_embed.W", "encoder.0.Wh", "decoder.Wx", "head.W"} <= set(errors)


def test_seq2seq_stacked_encoder_gradients_with_dropout_and_a_fixed_mask():
    rng = np.random.default_rng(1)
    model = _seq2seq(rng, cell="lstm", attention="additive", layers=2, dropout=0.25)
    x, y = rng.integers(2, V, (N, S)), rng.integers(2, V, (N, S + 1))  # output longer than input
    errors = check_layer_gradients(TeacherForced(model, y), x, rng=rng, check_input=False,
                                   before_forward=lambda: model.set_rng(np.random.default_rng(3)))
    assert "encoder.1.Wx" in errors and "attn.v" in errors


@pytest.mark.parametrize("attention", ["none", "additive", "dot"])
def test_greedy_decoding_equals_teacher_forcing_on_its_own_predictions(attention):
    rng = np.random.default_rng(2)
    model = _seq2seq(rng, attention=attention)
    x = rng.integers(2, V, (N, S))
    greedy = model.forward(x)
    own = greedy.argmax(axis=-1)
    np.testing.assert_allclose(model.forward_train(x, own), greedy, atol=1e-12)
    other = (own + 1) % V  # different previous tokens must change later steps
    assert not np.allclose(model.forward_train(x, other)[:, 1:], greedy[:, 1:])


def test_seq2seq_attention_weights_are_one_distribution_per_output_step():
    rng = np.random.default_rng(3)
    model = _seq2seq(rng, attention="additive")
    x = rng.integers(2, V, (N, S))
    x[1, 3:] = 0
    model.forward(x)
    (w,) = model.attention_weights()
    assert w.shape == (N, 1, S, S)
    assert model.last_hidden_states.shape == (N, S, 4)
    assert model.encoder[-1].last_hidden_states.shape == (N, S, 4)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0)
    assert np.all(w[1, :, :, 3:] == 0)
    assert _seq2seq(rng, attention="none").attention_weights() == []


class Spy:
    """Wraps a model and records which forward the Trainer used."""

    def __init__(self, model):
        self.model, self.calls = model, []

    def __getattr__(self, name):
        return getattr(self.model, name)

    def forward_train(self, x, y):
        self.calls.append("forward_train")
        return self.model.forward_train(x, y)

    def forward(self, x, *, training=False, **kw):
        self.calls.append(f"forward(training={training})")
        assert not kw, "evaluation must not receive targets"
        return self.model.forward(x, training=training)


def test_trainer_teacher_forces_training_but_evaluates_greedily():
    spec = parse_spec({"model": "seq2seq", "dataset": "reverse", "attention": "dot", "seq_len": 5, "vocab": 4,
                       "n_samples": 64, "epochs": 1, "hidden": [8], "batch_size": 16})
    exp = prepare(spec)
    spy = Spy(exp.model)
    exp.trainer.model = spy
    summary = run_training(exp)
    assert summary.outcome == "completed"
    assert "forward_train" in spy.calls and "forward(training=True)" not in spy.calls
    assert "forward(training=False)" in spy.calls
    # the reported accuracy is the greedy decoder's own token accuracy
    data = exp.data
    pred = exp.model.forward(data.x_val).argmax(axis=-1)
    assert summary.final["val_accuracy"] == pytest.approx((pred == data.y_val).mean())


@pytest.mark.parametrize("model,dataset,extra", [
    ("rnn", "memory", {}), ("lstm", "sentiment", {"layers": 2, "dropout": 0.1}), ("gru", "kv", {}),
    ("lstm", "copy", {}), ("seq2seq", "sort", {"attention": "additive"}), ("seq2seq", "reverse", {}),
    ("transformer", "sentiment", {"norm": "post", "positional": "learned"}),
    ("transformer", "reverse", {"heads": 2, "d_model": 8, "layers": 2}),
])
def test_every_sequence_model_trains_from_a_spec_and_round_trips_through_save(model, dataset, extra):
    spec = parse_spec({"model": model, "dataset": dataset, "seq_len": 8, "vocab": 4, "n_samples": 80,
                       "epochs": 2, "hidden": [8], "clip": 1.0, **extra})
    exp = prepare(spec)
    config = config_from_spec(spec, exp.data)
    assert exp.model.config == config
    summary = run_training(exp)
    assert summary.outcome == "completed" and 0 <= summary.final["test_accuracy"] <= 1
    assert summary.final["grad_norm"] > 0
    buf = io.BytesIO()
    save_model(exp.model, buf)
    buf.seek(0)
    loaded = load_model(buf)
    x = exp.data.x_val
    np.testing.assert_array_equal(loaded.forward(x), exp.model.forward(x))
