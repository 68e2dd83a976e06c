"""Conv2D against its naive twins, pooling and BatchNorm behaviour, shape properties."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.layers import AvgPool2D, BatchNorm, Conv2D, Flatten, MaxPool2D, Residual, Sequential, Dense
from engine.layers.conv import (col2im, col2im_wide, conv2d_naive, conv_output_size, im2col, im2col_naive,
                                im2col_wide, input_grad_wide, padded_flat)


@pytest.mark.parametrize("k,stride,padding", [(3, 1, 0), (3, 1, 1), (3, 2, 1), (2, 2, 0), (5, 3, 2), (1, 1, 0)])
def test_im2col_matches_its_naive_twin(k, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 9, 8))
    np.testing.assert_array_equal(im2col(x, k, k, stride, padding), im2col_naive(x, k, k, stride, padding))


@pytest.mark.parametrize("k,stride,padding", [(3, 1, 0), (3, 1, 1), (3, 2, 1), (2, 2, 0), (4, 3, 2)])
def test_conv_forward_matches_the_naive_convolution(k, stride, padding):
    rng = np.random.default_rng(1)
    conv = Conv2D(3, 4, k, stride=stride, padding=padding, rng=rng, dtype=np.float64)
    conv.params["b"][:] = rng.standard_normal(4)
    x = rng.standard_normal((2, 3, 10, 9))
    expected = conv2d_naive(x, conv.params["W"], conv.params["b"], stride, padding)
    np.testing.assert_allclose(conv.forward(x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k,padding", [(3, 1), (3, 0), (5, 2), (1, 0), (2, 1)])
def test_wide_im2col_holds_the_naive_columns_plus_junk(k, padding):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 7, 6))
    n, c, h, w = x.shape
    oh, ow, wp = h + 2 * padding - k + 1, w + 2 * padding - k + 1, w + 2 * padding
    wide = im2col_wide(padded_flat(x, k, padding), x.shape, k, padding)  # (C*k*k, N*OH*Wp)
    narrow = wide.reshape(c * k * k, n, oh, wp)[:, :, :, :ow].transpose(1, 0, 2, 3).reshape(n, c * k * k, -1)
    np.testing.assert_array_equal(narrow, im2col_naive(x, k, k, 1, padding))


def test_wide_col2im_is_the_adjoint_of_wide_im2col_on_valid_columns():
    rng = np.random.default_rng(8)
    x = rng.standard_normal((2, 2, 5, 6))
    k, p = 3, 1
    wide = im2col_wide(padded_flat(x, k, p), x.shape, k, p)
    c = rng.standard_normal(wide.shape)
    c.reshape(2 * 9, 2, 5, 8)[..., 6:] = 0.0  # junk columns carry no gradient
    lhs = float(np.sum(wide * c))
    rhs = float(np.sum(x * col2im_wide(c, x.shape, k, p)))
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("k,padding", [(3, 1), (3, 0), (5, 2), (1, 0), (2, 1), (4, 0)])
def test_input_grad_by_kernel_rows_matches_the_product_then_wide_col2im(k, padding):
    rng = np.random.default_rng(10)
    n, c, h, w, f = 3, 2, 7, 6, 4
    oh, ow, wp = h + 2 * padding - k + 1, w + 2 * padding - k + 1, w + 2 * padding
    W = rng.standard_normal((f, c, k, k))
    d2 = rng.standard_normal((f, n, oh, wp))
    d2[..., ow:] = 0.0  # junk columns carry no gradient
    d2 = d2.reshape(f, -1)
    expected = col2im_wide(W.reshape(f, -1).T @ d2, (n, c, h, w), k, padding)
    shifted = np.zeros((f, k, d2.shape[1]))
    for _ in range(2):  # a reused buffer gives the same answer
        got = input_grad_wide(d2, W, (n, c, h, w), padding, shifted=shifted)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-12)


def test_layers_accept_and_keep_channel_major_memory():
    rng = np.random.default_rng(9)
    conv = Conv2D(2, 3, 3, padding=1, rng=rng, dtype=np.float64)
    x = rng.standard_normal((4, 2, 6, 6))
    x_cm = np.ascontiguousarray(x.transpose(1, 0, 2, 3)).transpose(1, 0, 2, 3)  # same values, (C, N, H, W) memory
    out = conv.forward(x_cm)
    np.testing.assert_allclose(out, conv2d_naive(x, conv.params["W"], conv.params["b"], 1, 1), atol=1e-12)
    pool, flat = MaxPool2D(2), Flatten()
    y = flat.forward(pool.forward(out))
    np.testing.assert_array_equal(y, MaxPool2D(2).forward(np.ascontiguousarray(out)).reshape(4, -1))
    g = rng.standard_normal(y.shape)
    d = pool.backward(flat.backward(g))
    assert d.shape == out.shape and not d.flags.c_contiguous  # laid out like the conv output
    ref = MaxPool2D(2)
    ref.forward(np.ascontiguousarray(out))
    np.testing.assert_array_equal(d, ref.backward(g.reshape(4, 3, 3, 3)))


def test_col2im_is_the_adjoint_of_im2col():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 2, 7, 7))
    cols = im2col(x, 3, 3, 2, 1)
    c = rng.standard_normal(cols.shape)
    lhs = float(np.sum(cols * c))
    rhs = float(np.sum(x * col2im(c, x.shape, 3, 3, 2, 1)))
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_conv_refuses_a_kernel_larger_than_its_input():
    conv = Conv2D(1, 2, 5, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="larger than the 3x3 input"):
        conv.forward(np.zeros((1, 1, 3, 3), dtype=np.float32))


def test_conv_float32_stays_float32_and_reuses_its_column_buffer():
    rng = np.random.default_rng(3)
    conv = Conv2D(2, 3, 3, padding=1, rng=rng)
    x = rng.standard_normal((4, 2, 6, 6)).astype(np.float32)
    first = conv.forward(x).copy()
    buf = conv._cols
    second = conv.forward(x)
    assert second.dtype == np.float32 and conv._cols is buf
    np.testing.assert_array_equal(first, second)


def test_maxpool_keeps_the_strongest_value_of_each_window():
    fmap = np.array([[1, 3, 2, 4], [5, 6, 1, 2], [3, 8, 4, 7], [1, 2, 6, 3]], dtype=np.float64)[None, None]
    out = MaxPool2D(2).forward(fmap)
    np.testing.assert_array_equal(out[0, 0], [[6, 4], [8, 7]])
    np.testing.assert_array_equal(AvgPool2D(2).forward(fmap)[0, 0], [[3.75, 2.25], [3.5, 5.0]])


def test_maxpool_sends_the_gradient_to_the_first_maximum_only():
    x = np.ones((1, 1, 2, 2))
    pool = MaxPool2D(2)
    pool.forward(x)
    dx = pool.backward(np.array([[[[5.0]]]]))
    np.testing.assert_array_equal(dx[0, 0], [[5.0, 0.0], [0.0, 0.0]])


def test_batchnorm_training_output_is_normalised_and_running_stats_move():
    rng = np.random.default_rng(4)
    bn = BatchNorm(3, dtype=np.float64)
    x = rng.normal(5.0, 2.0, (64, 3, 4, 4))
    out = bn.forward(x, training=True)
    np.testing.assert_allclose(out.mean(axis=(0, 2, 3)), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=(0, 2, 3)), 1, atol=1e-3)
    m = x.size // 3
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=(0, 2, 3)))
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * m / (m - 1))
    assert [n for n, _ in bn.buffers("bn.")] == ["bn.running_mean", "bn.running_var"]


def test_batchnorm_eval_gives_the_same_answer_for_one_sample_alone_or_in_a_batch():
    rng = np.random.default_rng(5)
    bn = BatchNorm(4, dtype=np.float64)
    for _ in range(5):
        bn.forward(rng.normal(1.0, 3.0, (16, 4)), training=True)
    batch = rng.standard_normal((8, 4))
    np.testing.assert_allclose(bn.forward(batch[:1]), bn.forward(batch)[:1])


def test_batchnorm_refuses_a_single_value_per_feature_in_training():
    with pytest.raises(ValueError, match="more than one value"):
        BatchNorm(2).forward(np.zeros((1, 2), dtype=np.float32), training=True)


def test_residual_adds_the_identity_and_refuses_a_shape_change():
    rng = np.random.default_rng(6)
    body = Sequential([Dense(3, 3, rng=rng, dtype=np.float64)])
    x = rng.standard_normal((2, 3))
    np.testing.assert_allclose(Residual(body, activation=None).forward(x), body.forward(x) + x)
    with pytest.raises(ValueError, match="changed the shape"):
        Residual(Sequential([Dense(3, 2, rng=rng)]), activation=None).forward(x.astype(np.float32))


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 4), c=st.integers(1, 3), h=st.integers(3, 12), w=st.integers(3, 12),
       k=st.integers(1, 3), stride=st.integers(1, 3), padding=st.integers(0, 2), f=st.integers(1, 4))
def test_conv_pool_flatten_shapes_follow_the_formula(n, c, h, w, k, stride, padding, f):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, c, h, w)).astype(np.float32)
    conv = Conv2D(c, f, k, stride=stride, padding=padding, rng=rng)
    out = conv.forward(x, training=True)
    oh, ow = conv_output_size(h, k, stride, padding), conv_output_size(w, k, stride, padding)
    assert out.shape == (n, f, oh, ow)
    assert conv.backward(np.ones_like(out)).shape == x.shape
    if min(oh, ow) >= 2:
        for pool in (MaxPool2D(2), AvgPool2D(2)):
            p = pool.forward(out)
            assert p.shape == (n, f, oh // 2, ow // 2)
            assert pool.backward(np.ones_like(p)).shape == out.shape
    flat = Flatten()
    assert flat.forward(out).shape == (n, f * oh * ow)


def test_training_runs_relu_after_its_max_pool_with_the_same_output_and_gradients():
    rng = np.random.default_rng(7)
    from engine.layers import ReLU

    def net():
        r = np.random.default_rng(0)
        return Sequential([Conv2D(1, 3, 3, padding=1, rng=r, dtype=np.float64), ReLU(), MaxPool2D(2),
                           Flatten(), Dense(3 * 3 * 3, 2, rng=r, dtype=np.float64)])

    x = rng.standard_normal((4, 1, 6, 7))
    x[0, 0, :3, :] = 0.0  # flat regions: conv outputs tie at exactly the bias, before and after ReLU
    dout = rng.standard_normal((4, 2))
    fast, written = net(), net()
    assert type(fast._train_order[1]) is MaxPool2D and type(fast._train_order[2]) is ReLU
    out_fast = fast.forward(x, training=True)
    h = x
    for layer in written.layers:  # the order as written, by hand
        h = layer.forward(h, training=True)
    np.testing.assert_array_equal(out_fast, h)
    fast.backward(dout)
    g = dout
    for layer in reversed(written.layers):
        g = layer.backward(g)
    for (name, a), (_, b) in zip(fast.named_grads(), written.named_grads()):
        np.testing.assert_array_equal(a, b, err_msg=name)
    # evaluation keeps the written order, so the ReLU layer's own output is a full feature map
    seen = {}
    relu = fast.layers[1]
    original = relu.forward
    relu.forward = lambda a, training=False: seen.setdefault("shape", a.shape) and original(a, training=training)
    fast.forward(x, training=False)
    assert seen["shape"] == (4, 3, 6, 7)
