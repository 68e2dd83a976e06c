"""Multi-head attention against torch.nn.MultiheadAttention in float64 with copied weights."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.layers import MultiHeadAttention  # noqa: E402
from engine.layers.attention import causal_mask  # noqa: E402

pytestmark = pytest.mark.torch
TOL = dict(rtol=1e-6, atol=1e-9)
D, HEADS = 8, 2


def _pair(rng):
    ours = MultiHeadAttention(D, HEADS, rng=rng, dtype=np.float64)
    ours.params["bqkv"][:] = rng.standard_normal(3 * D) * 0.1
    ours.params["bo"][:] = rng.standard_normal(D) * 0.1
    theirs = torch.nn.MultiheadAttention(D, HEADS, batch_first=True, dtype=torch.float64)
    with torch.no_grad():
        theirs.in_proj_weight.copy_(torch.tensor(ours.params["Wqkv"].T))
        theirs.in_proj_bias.copy_(torch.tensor(ours.params["bqkv"]))
        theirs.out_proj.weight.copy_(torch.tensor(ours.params["Wo"].T))
        theirs.out_proj.bias.copy_(torch.tensor(ours.params["bo"]))
    return ours, theirs


def _check_param_grads(ours, theirs):
    g = ours.grads
    np.testing.assert_allclose(g["Wqkv"], theirs.in_proj_weight.grad.numpy().T, **TOL)
    np.testing.assert_allclose(g["bqkv"], theirs.in_proj_bias.grad.numpy(), **TOL)
    np.testing.assert_allclose(g["Wo"], theirs.out_proj.weight.grad.numpy().T, **TOL)
    np.testing.assert_allclose(g["bo"], theirs.out_proj.bias.grad.numpy(), **TOL)


@pytest.mark.parametrize("causal,padding", [(False, False), (True, False), (False, True), (True, True)])
def test_self_attention_matches_torch_with_masks(causal, padding):
    rng = np.random.default_rng(0)
    ours, theirs = _pair(rng)
    ours.causal = causal
    N, T = 3, 6
    x, g = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, D))
    valid = np.ones((N, T), dtype=bool)
    if padding:
        valid[0, 4:] = valid[2, 2:] = False
    tx = torch.tensor(x, requires_grad=True)
    out, w = theirs(tx, tx, tx, need_weights=True, average_attn_weights=False,
                    key_padding_mask=torch.tensor(~valid) if padding else None,
                    attn_mask=torch.tensor(~causal_mask(T)) if causal else None)  # PyTorch: True = blocked
    (out * torch.tensor(g)).sum().backward()
    y = ours.forward(x, key_mask=valid if padding else None)
    np.testing.assert_allclose(y, out.detach().numpy(), **TOL)
    np.testing.assert_allclose(ours.last_weights, w.detach().numpy(), **TOL)
    np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), **TOL)
    _check_param_grads(ours, theirs)


def test_cross_attention_matches_torch():
    rng = np.random.default_rng(1)
    ours, theirs = _pair(rng)
    x, ctx, g = rng.standard_normal((2, 3, D)), rng.standard_normal((2, 5, D)), rng.standard_normal((2, 3, D))
    valid = np.array([[True] * 5, [True, True, True, False, False]])
    tx, tc = torch.tensor(x, requires_grad=True), torch.tensor(ctx, requires_grad=True)
    out, w = theirs(tx, tc, tc, key_padding_mask=torch.tensor(~valid), average_attn_weights=False)
    (out * torch.tensor(g)).sum().backward()
    y = ours.forward(x, context=ctx, key_mask=valid)
    np.testing.assert_allclose(y, out.detach().numpy(), **TOL)
    np.testing.assert_allclose(ours.last_weights, w.detach().numpy(), **TOL)
    np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), **TOL)
    np.testing.assert_allclose(ours.dcontext, tc.grad.numpy(), **TOL)
    _check_param_grads(ours, theirs)
