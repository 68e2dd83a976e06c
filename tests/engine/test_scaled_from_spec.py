"""The 1/sqrt(d) score scaling is a spec knob (`scaled`, on by default): a Transformer built with it off
attends with raw dot products, whose softmax is sharper (closer to saturated) on the same weights."""

from __future__ import annotations

import numpy as np

from engine.experiment import prepare
from engine.spec import parse_spec


def _weights(scaled: bool):
    exp = prepare(parse_spec({"model": "transformer", "dataset": "reverse", "seq_len": 6, "n_samples": 64,
                              "layers": 1, "heads": 1, "d_model": 64, "scaled": scaled}))
    exp.model.forward(exp.data.x_val[:8], training=False)
    return exp.model.attention_weights()[0]  # (N, heads, T, T)


def _entropy(w):
    return float(-(w * np.log(np.clip(w, 1e-30, None))).sum(-1).mean())


def test_raw_dot_products_give_a_sharper_softmax_on_the_same_weights():
    scaled, raw = _weights(True), _weights(False)
    np.testing.assert_allclose(raw.sum(-1), 1.0, atol=1e-5)
    assert _entropy(raw) < _entropy(scaled) < np.log(6)
    assert raw.max(-1).mean() > scaled.max(-1).mean()


def test_scaled_is_recorded_for_transformers_only_and_parses_from_text():
    assert parse_spec({"model": "transformer", "dataset": "reverse"}).params()["scaled"] is True
    assert parse_spec({"model": "transformer", "dataset": "reverse", "scaled": "false"}).scaled is False
    assert "scaled" not in parse_spec({"model": "seq2seq", "dataset": "reverse"}).params()
    assert "scaled" not in parse_spec({"model": "mlp"}).params()
