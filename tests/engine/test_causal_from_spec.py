"""The causal mask is a spec knob: a Transformer built from `causal=True` never attends to the future."""

from __future__ import annotations

import numpy as np

from engine.experiment import prepare
from engine.spec import parse_spec


def _weights(causal: bool):
    exp = prepare(parse_spec({"model": "transformer", "dataset": "reverse", "seq_len": 6, "n_samples": 64,
                              "layers": 2, "heads": 2, "d_model": 8, "causal": causal}))
    exp.model.forward(exp.data.x_val[:4], training=False)
    return exp.model.attention_weights()


def test_causal_spec_puts_no_weight_above_the_diagonal():
    for w in _weights(True):  # (N, heads, T, T) per layer
        upper = np.triu(np.ones(w.shape[-2:], dtype=bool), k=1)
        assert np.all(w[..., upper] == 0)
        np.testing.assert_allclose(w.sum(-1), 1.0, atol=1e-5)


def test_without_the_mask_the_future_gets_weight():
    w = _weights(False)[0]
    upper = np.triu(np.ones(w.shape[-2:], dtype=bool), k=1)
    assert np.all(w[..., upper].sum(-1) > 0)
