"""LayerNorm and the encoder block against PyTorch in float64 with copied weights."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.layers import EncoderBlock, LayerNorm  # noqa: E402

pytestmark = pytest.mark.torch
TOL = dict(rtol=1e-6, atol=1e-9)


def test_layernorm_matches_torch():
    rng = np.random.default_rng(0)
    ours = LayerNorm(5, dtype=np.float64)
    ours.params["gamma"][:] = rng.standard_normal(5)
    ours.params["beta"][:] = rng.standard_normal(5)
    theirs = torch.nn.LayerNorm(5, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(ours.params["gamma"]))
        theirs.bias.copy_(torch.tensor(ours.params["beta"]))
    x, g = rng.standard_normal((3, 4, 5)) * 3 + 2, rng.standard_normal((3, 4, 5))
    tx = torch.tensor(x, requires_grad=True)
    out = theirs(tx)
    (out * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.forward(x), out.detach().numpy(), **TOL)
    np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), **TOL)
    np.testing.assert_allclose(ours.grads["gamma"], theirs.weight.grad.numpy(), **TOL)
    np.testing.assert_allclose(ours.grads["beta"], theirs.bias.grad.numpy(), **TOL)


@pytest.mark.parametrize("norm", ["pre", "post"])
def test_encoder_block_matches_torch_transformer_encoder_layer(norm):
    rng = np.random.default_rng(1)
    D, heads, ffn = 8, 2, 12
    ours = EncoderBlock(D, heads, ffn, rng=rng, dtype=np.float64, norm=norm)
    theirs = torch.nn.TransformerEncoderLayer(D, heads, ffn, dropout=0.0, batch_first=True,
                                              norm_first=norm == "pre", dtype=torch.float64)
    attn, lin1, lin2 = ours.attn, ours.ffn.layers[0], ours.ffn.layers[2]
    # (PyTorch parameter, our parameter, our gradient, transposed?)
    pairs = [(theirs.self_attn.in_proj_weight, attn, "Wqkv", True),
             (theirs.self_attn.in_proj_bias, attn, "bqkv", False),
             (theirs.self_attn.out_proj.weight, attn, "Wo", True), (theirs.self_attn.out_proj.bias, attn, "bo", False),
             (theirs.linear1.weight, lin1, "W", True), (theirs.linear1.bias, lin1, "b", False),
             (theirs.linear2.weight, lin2, "W", True), (theirs.linear2.bias, lin2, "b", False),
             (theirs.norm1.weight, ours.ln1, "gamma", False), (theirs.norm1.bias, ours.ln1, "beta", False),
             (theirs.norm2.weight, ours.ln2, "gamma", False), (theirs.norm2.bias, ours.ln2, "beta", False)]
    with torch.no_grad():
        for t, layer, name, transposed in pairs:
            p = layer.params[name]
            p += rng.standard_normal(p.shape) * 0.1  # no bias left at zero, no norm scale left at one
            t.copy_(torch.tensor(p.T if transposed else p))
    valid = np.array([[True] * 5, [True] * 3 + [False] * 2])
    x, g = rng.standard_normal((2, 5, D)), rng.standard_normal((2, 5, D))
    tx = torch.tensor(x, requires_grad=True)
    theirs.train()  # the autograd path (the inference fast path skips masked rows differently)
    out = theirs(tx, src_key_padding_mask=torch.tensor(~valid))
    (out * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ours.forward(x, key_mask=valid), out.detach().numpy(), **TOL)
    np.testing.assert_allclose(ours.backward(g), tx.grad.numpy(), **TOL)
    for t, layer, name, transposed in pairs:
        grad = t.grad.numpy()
        np.testing.assert_allclose(layer.grads[name], grad.T if transposed else grad, **TOL, err_msg=name)
