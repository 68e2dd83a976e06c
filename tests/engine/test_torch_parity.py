"""Layers and optimizers against PyTorch in float64 with copied weights (skipped without torch)."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from engine.layers import BatchNorm, Conv2D, Dense, MaxPool2D  # noqa: E402
from engine.optim import make_optimizer  # noqa: E402

pytestmark = pytest.mark.torch
TOL = dict(rtol=1e-6, atol=1e-9)


def _t(a, grad=False):
    return torch.tensor(np.asarray(a), dtype=torch.float64, requires_grad=grad)


def test_dense_matches_torch_linear():
    rng = np.random.default_rng(0)
    layer = Dense(5, 3, rng=rng, dtype=np.float64)
    layer.params["b"][:] = rng.standard_normal(3)
    x, g = rng.standard_normal((4, 5)), rng.standard_normal((4, 3))
    tx, tW, tb = _t(x, True), _t(layer.params["W"].T, True), _t(layer.params["b"], True)
    out = F.linear(tx, tW, tb)
    out.backward(_t(g))
    np.testing.assert_allclose(layer.forward(x, training=True), out.detach().numpy(), **TOL)
    dx = layer.backward(g.copy())
    np.testing.assert_allclose(dx, tx.grad.numpy(), **TOL)
    np.testing.assert_allclose(layer.grads["W"], tW.grad.numpy().T, **TOL)
    np.testing.assert_allclose(layer.grads["b"], tb.grad.numpy(), **TOL)


@pytest.mark.parametrize("k,stride,padding", [(3, 1, 1), (3, 2, 0), (5, 2, 2), (2, 2, 0)])
def test_conv2d_matches_torch(k, stride, padding):
    rng = np.random.default_rng(1)
    conv = Conv2D(3, 4, k, stride=stride, padding=padding, rng=rng, dtype=np.float64)
    conv.params["b"][:] = rng.standard_normal(4)
    x = rng.standard_normal((2, 3, 9, 10))
    tx, tW, tb = _t(x, True), _t(conv.params["W"], True), _t(conv.params["b"], True)
    out = F.conv2d(tx, tW, tb, stride=stride, padding=padding)
    g = rng.standard_normal(tuple(out.shape))
    out.backward(_t(g))
    np.testing.assert_allclose(conv.forward(x, training=True), out.detach().numpy(), **TOL)
    np.testing.assert_allclose(conv.backward(g.copy()), tx.grad.numpy(), **TOL)
    np.testing.assert_allclose(conv.grads["W"], tW.grad.numpy(), **TOL)
    np.testing.assert_allclose(conv.grads["b"], tb.grad.numpy(), **TOL)


@pytest.mark.parametrize("size,shape", [(2, (2, 3, 8, 8)), (2, (2, 2, 7, 5)), (3, (1, 2, 9, 7))])
def test_maxpool_matches_torch(size, shape):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape)
    x[0, 0, 0, :2] = 7.0  # a tie: both must route the gradient to the first maximum
    tx = _t(x, True)
    out = F.max_pool2d(tx, size)
    g = rng.standard_normal(tuple(out.shape))
    out.backward(_t(g))
    pool = MaxPool2D(size)
    np.testing.assert_allclose(pool.forward(x), out.detach().numpy(), **TOL)
    np.testing.assert_allclose(pool.backward(g.copy()), tx.grad.numpy(), **TOL)


# (32, 64), (12, 64), (2, 64): the deep dense net's batch, its trailing batch on 300 digits, the smallest batch
@pytest.mark.parametrize("shape", [(16, 5), (6, 3, 4, 4), (32, 64), (12, 64), (2, 64)])
def test_batchnorm_matches_torch_in_training_and_eval(shape):
    rng = np.random.default_rng(3)
    c = shape[1]
    bn = BatchNorm(c, dtype=np.float64)
    bn.params["gamma"][:] = rng.uniform(0.5, 1.5, c)
    bn.params["beta"][:] = rng.standard_normal(c)
    tbn = (torch.nn.BatchNorm1d if len(shape) == 2 else torch.nn.BatchNorm2d)(c).double()
    with torch.no_grad():
        tbn.weight.copy_(_t(bn.params["gamma"]))
        tbn.bias.copy_(_t(bn.params["beta"]))
    for step in range(3):
        x = rng.normal(step, 2.0, shape)
        g = rng.standard_normal(shape)
        tx = _t(x, True)
        tbn.zero_grad()
        out = tbn(tx)
        out.backward(_t(g))
        np.testing.assert_allclose(bn.forward(x, training=True), out.detach().numpy(), **TOL)
        np.testing.assert_allclose(bn.backward(g.copy()), tx.grad.numpy(), **TOL)
        np.testing.assert_allclose(bn.grads["gamma"], tbn.weight.grad.numpy(), **TOL)
        np.testing.assert_allclose(bn.grads["beta"], tbn.bias.grad.numpy(), **TOL)
    np.testing.assert_allclose(bn.running_mean, tbn.running_mean.numpy(), **TOL)
    np.testing.assert_allclose(bn.running_var, tbn.running_var.numpy(), **TOL)
    tbn.eval()
    x = rng.standard_normal(shape)
    np.testing.assert_allclose(bn.forward(x, training=False), tbn(_t(x)).detach().numpy(), **TOL)


def _grad_of(p: np.ndarray, step: int) -> np.ndarray:
    """A deterministic, non-trivial gradient field: pulls towards 1, wiggles, varies per step."""
    return 2.0 * (p - 1.0) + np.sin(3.0 * p) + 0.1 * np.cos(step + p)


def _torch_optimizer(name, params, lr, l2, wd):
    W, b = params
    if name == "adamw":
        groups = [{"params": [W], "weight_decay": wd}, {"params": [b], "weight_decay": 0.0}]
        return torch.optim.AdamW(groups, lr=lr)
    groups = [{"params": [W], "weight_decay": l2}, {"params": [b], "weight_decay": 0.0}]
    return {
        "sgd": lambda: torch.optim.SGD(groups, lr=lr),
        "momentum": lambda: torch.optim.SGD(groups, lr=lr, momentum=0.9),
        "nesterov": lambda: torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True),
        "adagrad": lambda: torch.optim.Adagrad(groups, lr=lr, eps=1e-10),
        "rmsprop": lambda: torch.optim.RMSprop(groups, lr=lr, alpha=0.99, eps=1e-8),
        "adam": lambda: torch.optim.Adam(groups, lr=lr),
    }[name]()


@pytest.mark.parametrize("name,l2,wd", [
    ("sgd", 0.0, 0.0), ("sgd", 0.01, 0.0), ("momentum", 0.0, 0.0), ("momentum", 0.01, 0.0),
    ("nesterov", 0.0, 0.0), ("nesterov", 0.01, 0.0), ("adagrad", 0.0, 0.0), ("adagrad", 0.01, 0.0),
    ("rmsprop", 0.0, 0.0), ("rmsprop", 0.01, 0.0), ("adam", 0.0, 0.0), ("adam", 0.01, 0.0),
    ("adamw", 0.0, 0.05),
])
def test_optimizer_first_ten_steps_match_torch(name, l2, wd):
    rng = np.random.default_rng(4)
    lr = 0.05
    ours = {"fc.W": rng.standard_normal((3, 4)), "fc.b": rng.standard_normal(4)}
    tW, tb = _t(ours["fc.W"], True), _t(ours["fc.b"], True)
    opt = make_optimizer(name, lr, momentum=0.9, l2=l2, weight_decay=wd)
    topt = _torch_optimizer(name, (tW, tb), lr, l2, wd)
    for step in range(10):
        grads = {k: _grad_of(v, step) for k, v in ours.items()}
        opt.step(iter(ours.items()), iter(grads.items()))
        tW.grad = _t(_grad_of(tW.detach().numpy(), step))
        tb.grad = _t(_grad_of(tb.detach().numpy(), step))
        topt.step()
        np.testing.assert_allclose(ours["fc.W"], tW.detach().numpy(), rtol=1e-6, atol=1e-10)
        np.testing.assert_allclose(ours["fc.b"], tb.detach().numpy(), rtol=1e-6, atol=1e-10)
