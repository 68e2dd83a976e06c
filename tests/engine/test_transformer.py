"""LayerNorm, positional encodings, the encoder block and the Transformer model: gradients and behaviour."""

import numpy as np
import pytest

from engine.layers import EncoderBlock, LayerNorm, LearnedPositional, SinusoidalPositional, TransformerEncoder
from engine.layers.base import Layer
from engine.layers.positional import naive_sinusoidal_table, sinusoidal_table
from engine.models import TransformerConfig, build_model
from tests.engine.gradcheck import check_layer_gradients


class Masked(Layer):
    """Forward with a fixed key mask."""

    def __init__(self, layer, key_mask):
        super().__init__()
        self.layer, self.key_mask = layer, key_mask

    def forward(self, x, *, training=False):
        return self.layer.forward(x, training=training, key_mask=self.key_mask)

    def backward(self, dout):
        return self.layer.backward(dout)

    def named_params(self, prefix=""):
        return self.layer.named_params(prefix)

    def named_grads(self, prefix=""):
        return self.layer.named_grads(prefix)


def test_layernorm_gradients_and_normalisation():
    rng = np.random.default_rng(0)
    ln = LayerNorm(6, dtype=np.float64)
    ln.params["gamma"][:] = rng.standard_normal(6)
    ln.params["beta"][:] = rng.standard_normal(6)
    check_layer_gradients(ln, rng.standard_normal((2, 3, 6)) * 4 + 1, rng=rng)
    plain = LayerNorm(6, dtype=np.float64)
    y = plain.forward(rng.standard_normal((5, 6)) * 10 + 3)
    np.testing.assert_allclose(y.mean(axis=-1), 0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=-1), 1, rtol=1e-5)


def test_sinusoidal_table_matches_naive_twin_for_even_and_odd_widths():
    for length, dim in [(7, 8), (5, 5), (1, 2)]:
        np.testing.assert_allclose(sinusoidal_table(length, dim), naive_sinusoidal_table(length, dim), atol=1e-12)


def test_sinusoidal_positions_have_no_parameters_and_pass_gradients_through():
    rng = np.random.default_rng(1)
    pos = SinusoidalPositional(10, 4, dtype=np.float64)
    x = rng.standard_normal((2, 6, 4))
    np.testing.assert_allclose(pos.forward(x) - x, np.broadcast_to(sinusoidal_table(6, 4), x.shape), atol=1e-12)
    assert pos.num_params() == 0
    check_layer_gradients(pos, x, rng=rng)
    with pytest.raises(ValueError, match="exceeds"):
        pos.forward(np.zeros((1, 11, 4)))


def test_learned_positional_gradients_touch_only_used_positions():
    rng = np.random.default_rng(2)
    pos = LearnedPositional(9, 4, rng=rng, dtype=np.float64)
    check_layer_gradients(pos, rng.standard_normal((3, 5, 4)), rng=rng)
    assert np.all(pos.grads["P"][5:] == 0) and np.any(pos.grads["P"][:5] != 0)


@pytest.mark.parametrize("norm", ["pre", "post"])
@pytest.mark.parametrize("padding", [False, True])
def test_encoder_block_gradients(norm, padding):
    rng = np.random.default_rng(3)
    block = EncoderBlock(6, 2, 10, rng=rng, dtype=np.float64, norm=norm)
    valid = np.array([[True] * 5, [True, True, True, False, False]]) if padding else None
    check_layer_gradients(Masked(block, valid), rng.standard_normal((2, 5, 6)), rng=rng)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_encoder_stack_gradients_with_dropout_and_a_fixed_mask(norm):
    rng = np.random.default_rng(4)
    stack = TransformerEncoder(4, 2, 8, 2, rng=rng, dtype=np.float64, norm=norm, dropout=0.2, causal=True)
    errors = check_layer_gradients(Masked(stack, None), rng.standard_normal((2, 4, 4)), rng=rng,
                                   before_forward=lambda: stack.set_rng(np.random.default_rng(5)))
    assert ("ln_f.gamma" in errors) == (norm == "pre")
    assert len(stack.attention_weights()) == 2


def _transformer(rng, **kw):
    config = TransformerConfig(**{**dict(vocab_size=7, max_len=6, d_model=4, heads=2, layers=2, ffn=8,
                                         out_features=3), **kw})
    return build_model(config, rng, dtype=np.float64)


@pytest.mark.parametrize("per_token", [False, True])
@pytest.mark.parametrize("norm,positional", [("pre", "learned"), ("post", "sinusoidal")])
def test_transformer_model_gradients(per_token, norm, positional):
    rng = np.random.default_rng(6)
    model = _transformer(rng, per_token=per_token, norm=norm, positional=positional)
    x = rng.integers(1, 7, (3, 6))
    x[0, :2] = 0  # left padding
    errors = check_layer_gradients(model, x, rng=rng, check_input=False)
    assert "embed.W" in errors and "encoder.blocks.1.attn.Wqkv" in errors


def test_transformer_attention_weights_per_layer_and_padding_ignored():
    rng = np.random.default_rng(7)
    model = _transformer(rng)
    x = rng.integers(1, 7, (4, 6))
    x[1, :3] = 0
    logits = model.forward(x)
    weights = model.attention_weights()
    assert [w.shape for w in weights] == [(4, 2, 6, 6)] * 2
    assert all(np.all(w[1, :, :, :3] == 0) for w in weights)
    # the pad token's embedding cannot change a prediction: keys masked, pooled over real tokens only
    model.embed.params["W"][0] += 5.0
    np.testing.assert_allclose(model.forward(x), logits, atol=1e-12)


def test_transformer_refuses_heads_that_do_not_divide_the_width():
    with pytest.raises(ValueError, match="must divide"):
        _transformer(np.random.default_rng(0), d_model=6, heads=4)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_block_without_input_gradient_returns_none_and_the_same_parameter_gradients(norm):
    rng = np.random.default_rng(8)
    block = EncoderBlock(6, 2, 10, rng=rng, dtype=np.float64, norm=norm)
    x, g = rng.standard_normal((2, 5, 6)), rng.standard_normal((2, 5, 6))
    block.forward(x)
    assert block.backward(g) is not None
    full = {k: v.copy() for k, v in block.named_grads()}
    block.input_grad = False
    block.forward(x)
    assert block.backward(g) is None
    for k, v in block.named_grads():
        np.testing.assert_allclose(v, full[k], rtol=1e-12, atol=1e-14, err_msg=k)
