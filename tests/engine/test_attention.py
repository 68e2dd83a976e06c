"""Attention kernels against their naive twins, masks as properties, gradient checks for every variant."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.layers import AdditiveAttention, DotAttention, MultiHeadAttention
from engine.layers.attention import (
    additive_attention,
    causal_mask,
    masked_softmax,
    naive_additive_attention,
    naive_attention,
    padding_mask,
    scaled_dot_product_attention,
    scaled_dot_product_attention_backward,
)
from engine.layers.base import Layer
from engine.spec import SpecError, parse_spec
from tests.engine.gradcheck import check_layer_gradients


def _valid(rng, n, t):
    """(n, t) key-validity with a random amount of right padding, at least one real token per row."""
    lengths = rng.integers(1, t + 1, n)
    return np.arange(t)[None, :] < lengths[:, None]


class Bound(Layer):
    """Forward a layer with fixed keyword arguments; extra arrays (keys, context) checked as params."""

    def __init__(self, layer, extra=None, extra_grad=None, **kwargs):
        super().__init__()
        self.layer, self.kwargs, self.extra_grad = layer, kwargs, extra_grad
        self.params = {**layer.params, **(extra or {})}
        self.grads = {**layer.grads, **{k: np.zeros_like(v) for k, v in (extra or {}).items()}}

    def forward(self, x, *, training=False):
        return self.layer.forward(x, training=training, **self.kwargs)

    def backward(self, dout):
        dx = self.layer.backward(dout)
        for name, grad in (self.extra_grad or {}).items():
            self.grads[name][...] = getattr(self.layer, grad)
        return dx


class SDPA(Layer):
    """The kernel pair as a layer: q is the input, k and v are checked as parameters."""

    def __init__(self, k, v, mask):
        super().__init__()
        self.params = {"k": k, "v": v}
        self.grads = {"k": np.zeros_like(k), "v": np.zeros_like(v)}
        self.mask = mask

    def forward(self, q, *, training=False):
        self.q = q
        out, self.w = scaled_dot_product_attention(q, self.params["k"], self.params["v"], self.mask)
        return out

    def backward(self, dout):
        dq, self.grads["k"][...], self.grads["v"][...] = scaled_dot_product_attention_backward(
            dout, self.q, self.params["k"], self.params["v"], self.w)
        return dq


# ---------------------------------------------------------------- kernels vs naive twins

@pytest.mark.parametrize("masking", ["none", "causal", "padding", "both"])
def test_scaled_dot_product_matches_naive_twin(masking):
    rng = np.random.default_rng(0)
    B, T, d = 3, 5, 4
    q, k, v = rng.standard_normal((B, T, d)), rng.standard_normal((B, T, d)), rng.standard_normal((B, T, 2))
    pad = _valid(rng, B, T)[:, None, :]
    mask = {"none": None, "causal": causal_mask(T), "padding": pad, "both": causal_mask(T) & pad}[masking]
    out, w = scaled_dot_product_attention(q, k, v, mask)
    ref_out, ref_w = naive_attention(q, k, v, mask)
    np.testing.assert_allclose(w, ref_w, atol=1e-12)
    np.testing.assert_allclose(out, ref_out, atol=1e-12)


def test_unscaled_dot_product_matches_naive_twin_and_is_the_scaled_one_at_sqrt_d_times_q():
    rng = np.random.default_rng(5)
    B, T, d = 2, 4, 9
    q, k, v = rng.standard_normal((B, T, d)), rng.standard_normal((B, T, d)), rng.standard_normal((B, T, 2))
    out, w = scaled_dot_product_attention(q, k, v, scaled=False)
    ref_out, ref_w = naive_attention(q, k, v, scaled=False)
    np.testing.assert_allclose(w, ref_w, atol=1e-12)
    np.testing.assert_allclose(out, ref_out, atol=1e-12)
    np.testing.assert_allclose(w, scaled_dot_product_attention(q * 3.0, k, v)[1], atol=1e-12)  # sqrt(9) = 3
    assert not np.allclose(w, scaled_dot_product_attention(q, k, v)[1])


def test_additive_attention_matches_naive_twin():
    rng = np.random.default_rng(1)
    N, S, A = 3, 6, 4
    qp, kp, v = rng.standard_normal((N, A)), rng.standard_normal((N, S, A)), rng.standard_normal(A)
    values, mask = rng.standard_normal((N, S, 3)), _valid(rng, N, S)
    context, w, _ = additive_attention(qp, kp.copy(), v, values, mask)
    ref_context, ref_w = naive_additive_attention(qp, kp, v, values, mask)
    np.testing.assert_allclose(w, ref_w, atol=1e-12)
    np.testing.assert_allclose(context, ref_context, atol=1e-12)


def test_fully_masked_row_gets_zero_weights_not_nan():
    scores = np.array([[1.0, 2.0], [3.0, 4.0]])
    w = masked_softmax(scores, np.array([[True, False], [False, False]]))
    np.testing.assert_array_equal(w, [[1.0, 0.0], [0.0, 0.0]])


def test_causal_mask_is_lower_triangular_and_end_aligned():
    np.testing.assert_array_equal(causal_mask(3), [[1, 0, 0], [1, 1, 0], [1, 1, 1]])
    np.testing.assert_array_equal(causal_mask(2, 3), [[1, 1, 0], [1, 1, 1]])


# ---------------------------------------------------------------- masks as properties

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(1, 4), t=st.integers(1, 9), heads=st.sampled_from([1, 2, 4]),
       causal=st.booleans())
def test_no_attention_weight_on_future_or_padded_positions(seed, n, t, heads, causal):
    rng = np.random.default_rng(seed)
    attn = MultiHeadAttention(8, heads, rng=rng, causal=causal)
    valid = _valid(rng, n, t)
    attn.forward(rng.standard_normal((n, t, 8)).astype(np.float32) * 3, key_mask=valid)
    w = attn.last_weights  # (n, heads, t, t)
    assert w.shape == (n, heads, t, t)
    assert np.all(w[np.broadcast_to(~valid[:, None, None, :], w.shape)] == 0.0)
    if causal:
        future = np.triu(np.ones((t, t), dtype=bool), k=1)
        assert np.all(w[..., future] == 0.0)
    allowed = valid[:, None, None, :] & (causal_mask(t) if causal else True)
    has_any = np.broadcast_to(allowed.any(axis=-1), w.shape[:-1])
    np.testing.assert_allclose(w.sum(axis=-1)[has_any], 1.0, rtol=1e-5)
    assert np.all(w.sum(axis=-1)[~has_any] == 0.0)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), rows=st.integers(1, 5), cols=st.integers(1, 8))
def test_softmax_rows_sum_to_one(seed, rows, cols):
    rng = np.random.default_rng(seed)
    w = masked_softmax(rng.standard_normal((rows, cols)) * 50)
    assert np.all(w >= 0)
    np.testing.assert_allclose(w.sum(axis=-1), 1.0, rtol=1e-12)


# ---------------------------------------------------------------- gradient checks

@pytest.mark.parametrize("masking", ["none", "causal", "padding", "both"])
def test_scaled_dot_product_kernel_gradients(masking):
    rng = np.random.default_rng(2)
    B, T, d = 2, 5, 3
    pad = padding_mask(_valid(rng, B, T))[:, 0]  # (B, 1, T)
    mask = {"none": None, "causal": causal_mask(T), "padding": pad, "both": causal_mask(T) & pad}[masking]
    layer = SDPA(rng.standard_normal((B, T, d)), rng.standard_normal((B, T, 2)), mask)
    check_layer_gradients(layer, rng.standard_normal((B, T, d)), rng=rng)


@pytest.mark.parametrize("causal,padding,scaled", [(False, False, True), (True, False, True), (False, True, True),
                                                   (True, True, True), (True, True, False)])
def test_multi_head_self_attention_gradients(causal, padding, scaled):
    rng = np.random.default_rng(3)
    attn = MultiHeadAttention(6, 3, rng=rng, dtype=np.float64, causal=causal, scaled=scaled)
    attn.params["bqkv"][:] = rng.standard_normal(18) * 0.1
    valid = _valid(rng, 2, 5) if padding else None
    check_layer_gradients(Bound(attn, key_mask=valid), rng.standard_normal((2, 5, 6)), rng=rng)


@pytest.mark.parametrize("padding", [False, True])
def test_multi_head_cross_attention_gradients_reach_the_context(padding):
    rng = np.random.default_rng(4)
    attn = MultiHeadAttention(4, 2, rng=rng, dtype=np.float64)
    context = rng.standard_normal((2, 6, 4))
    valid = _valid(rng, 2, 6) if padding else None
    layer = Bound(attn, {"context": context}, {"context": "dcontext"}, context=context, key_mask=valid)
    errors = check_layer_gradients(layer, rng.standard_normal((2, 3, 4)), rng=rng)
    assert "context" in errors
    assert attn.last_weights.shape == (2, 2, 3, 6)


@pytest.mark.parametrize("cls", [AdditiveAttention, DotAttention])
@pytest.mark.parametrize("padding", [False, True])
def test_decoder_attention_gradients_reach_queries_keys_and_weights(cls, padding):
    rng = np.random.default_rng(5)
    keys = rng.standard_normal((2, 5, 4))
    attn = cls(4, 4, 3, rng=rng, dtype=np.float64) if cls is AdditiveAttention else cls()
    mask = _valid(rng, 2, 5) if padding else None
    layer = Bound(attn, {"keys": keys}, {"keys": "dkeys"}, keys=keys, mask=mask)
    errors = check_layer_gradients(layer, rng.standard_normal((2, 3, 4)), rng=rng)
    assert "keys" in errors
    assert attn.last_weights.shape == (2, 3, 5)
    if padding:
        assert np.all(attn.last_weights[~np.broadcast_to(mask[:, None, :], (2, 3, 5))] == 0.0)


def test_heads_must_divide_the_model_width():
    with pytest.raises(ValueError, match=r"heads \(3\) must divide the model width d_model \(8\)"):
        MultiHeadAttention(8, 3, rng=np.random.default_rng(0))
    with pytest.raises(SpecError, match="must divide"):
        parse_spec({"model": "transformer", "dataset": "reverse", "d_model": 30, "heads": 4})


@pytest.mark.parametrize("offset", [0.0, 500.0])  # 0: one shared shift; 500: a shift per row
def test_softmax_is_exact_whether_scores_share_one_shift_or_need_one_per_row(offset):
    rng = np.random.default_rng(6)
    scores = rng.standard_normal((3, 4, 7)) * 3
    scores[0, 0] += offset
    mask = rng.random((3, 4, 7)) < 0.7
    mask[1, 2] = False  # a fully masked row
    for m in (None, mask):
        allowed = np.ones_like(mask) if m is None else m
        expected = np.zeros_like(scores)
        for idx in np.ndindex(scores.shape[:-1]):
            row = scores[idx][allowed[idx]]
            if row.size:
                e = np.exp(row - row.max())
                expected[idx][allowed[idx]] = e / e.sum()
        np.testing.assert_allclose(masked_softmax(scores.copy(), m), expected, atol=1e-12)
