"""RNN, LSTM and GRU against PyTorch in float64 with copied weights: outputs, states and every gradient."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.layers import Recurrent  # noqa: E402

pytestmark = pytest.mark.torch
TOL = dict(rtol=1e-6, atol=1e-9)
N, T, D, H = 3, 7, 4, 5


def _gate_order(kind: str) -> np.ndarray:
    """Columns of our packed gates in PyTorch's row order (LSTM: ours i,f,o,g; PyTorch i,f,g,o)."""
    if kind == "lstm":
        return np.r_[0:H, H:2 * H, 3 * H:4 * H, 2 * H:3 * H]
    return np.arange({"rnn": H, "gru": 3 * H}[kind])


def _copy_into_torch(layer: Recurrent, module, suffix: str = "l0") -> np.ndarray:
    order = _gate_order(layer.kind)
    p = layer.params
    b_hh = np.zeros(len(order))
    if layer.kind == "gru":
        b_hh[2 * H:] = p["bhn"]  # PyTorch's b_hn sits inside r * (...), like ours
    with torch.no_grad():
        getattr(module, f"weight_ih_{suffix}").copy_(torch.tensor(p["Wx"][:, order].T))
        getattr(module, f"weight_hh_{suffix}").copy_(torch.tensor(p["Wh"][:, order].T))
        getattr(module, f"bias_ih_{suffix}").copy_(torch.tensor(p["b"][order]))
        getattr(module, f"bias_hh_{suffix}").copy_(torch.tensor(b_hh))
    return order


def _torch_module(kind: str, layers: int = 1):
    cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
    return cls(D, H, num_layers=layers, batch_first=True, dtype=torch.float64)


def _check_grads(layer: Recurrent, module, order: np.ndarray, suffix: str = "l0") -> None:
    g = layer.grads
    np.testing.assert_allclose(g["Wx"][:, order], getattr(module, f"weight_ih_{suffix}").grad.numpy().T, **TOL)
    np.testing.assert_allclose(g["Wh"][:, order], getattr(module, f"weight_hh_{suffix}").grad.numpy().T, **TOL)
    b_ih = getattr(module, f"bias_ih_{suffix}").grad.numpy()
    b_hh = getattr(module, f"bias_hh_{suffix}").grad.numpy()
    np.testing.assert_allclose(g["b"][order], b_ih, **TOL)
    if layer.kind == "gru":
        np.testing.assert_allclose(g["bhn"], b_hh[2 * H:], **TOL)
    else:
        np.testing.assert_allclose(g["b"][order], b_hh, **TOL)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_matches_torch_with_initial_state_forward_and_gradients(kind):
    rng = np.random.default_rng(0)
    layer = Recurrent(kind, D, H, rng=rng, dtype=np.float64)
    module = _torch_module(kind)
    order = _copy_into_torch(layer, module)
    x, g = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, H))
    state = tuple(rng.standard_normal((N, H)) for _ in range(layer.cell.n_states))
    g_final = tuple(rng.standard_normal((N, H)) for _ in state)

    tx = torch.tensor(x, requires_grad=True)
    tstate = [torch.tensor(s[None], requires_grad=True) for s in state]
    out, final = module(tx, tuple(tstate) if kind == "lstm" else tstate[0])
    final = final if kind == "lstm" else (final,)
    loss = (out * torch.tensor(g)).sum() + sum((f[0] * torch.tensor(gf)).sum()
                                                for f, gf in zip(final, g_final, strict=True))
    loss.backward()

    hs = layer.forward(x, state=state)
    np.testing.assert_allclose(hs, out.detach().numpy(), **TOL)
    for ours, theirs in zip(layer.last_state, final, strict=True):
        np.testing.assert_allclose(ours, theirs[0].detach().numpy(), **TOL)
    dx = layer.backward(g, dstate=g_final)
    np.testing.assert_allclose(dx, tx.grad.numpy(), **TOL)
    for ours, theirs in zip(layer.dstate0, tstate, strict=True):
        np.testing.assert_allclose(ours, theirs.grad.numpy()[0], **TOL)
    _check_grads(layer, module, order)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_two_stacked_layers_match_torch_num_layers_2(kind):
    rng = np.random.default_rng(1)
    layers = [Recurrent(kind, D, H, rng=rng, dtype=np.float64), Recurrent(kind, H, H, rng=rng, dtype=np.float64)]
    module = _torch_module(kind, layers=2)
    orders = [_copy_into_torch(layer, module, suffix=f"l{i}") for i, layer in enumerate(layers)]
    x, g = rng.standard_normal((N, T, D)), rng.standard_normal((N, T, H))
    tx = torch.tensor(x, requires_grad=True)
    out, _ = module(tx)
    (out * torch.tensor(g)).sum().backward()
    hs = layers[1].forward(layers[0].forward(x))
    np.testing.assert_allclose(hs, out.detach().numpy(), **TOL)
    dx = layers[0].backward(layers[1].backward(g))
    np.testing.assert_allclose(dx, tx.grad.numpy(), **TOL)
    for i, (layer, order) in enumerate(zip(layers, orders, strict=True)):
        _check_grads(layer, module, order, suffix=f"l{i}")
