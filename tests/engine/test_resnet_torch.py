"""The deep plain/residual dense network against the same network in PyTorch (float64, copied weights).

The layer checks (test_torch_parity.py) cover one BatchNorm; these cover the stack a learner trains:
20 weighted layers, BatchNorm before each activation and at the end of every residual branch,
Adam steps through the engine's Trainer (which skips the input gradient), then evaluation with the
running statistics. Skipped without torch.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.layers import BatchNorm, Dense, ReLU, Residual, Sequential  # noqa: E402
from engine.losses import SoftmaxCrossEntropy  # noqa: E402
from engine.models import ResNetConfig, build_model  # noqa: E402
from engine.optim import make_optimizer  # noqa: E402
from engine.train import Trainer  # noqa: E402

pytestmark = pytest.mark.torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Tiny matrices: threads only add waiting on a shared machine (the setting is put back after)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class _TorchResidual(torch.nn.Module):
    def __init__(self, body, skip):
        super().__init__()
        self.body, self.skip = body, skip

    def forward(self, x):
        out = self.body(x)
        return torch.relu(out + x if self.skip else out)


def _to_torch(layer):
    """The same network as a torch module, weights copied; BatchNorm with the engine's momentum and eps."""
    if isinstance(layer, Sequential):
        return torch.nn.Sequential(*[_to_torch(child) for child in layer.layers])
    if isinstance(layer, Residual):
        return _TorchResidual(_to_torch(layer.body), layer.skip)
    if isinstance(layer, Dense):
        linear = torch.nn.Linear(layer.in_features, layer.out_features, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.tensor(layer.params["W"].T))
            linear.bias.copy_(torch.tensor(layer.params["b"]))
        return linear
    if isinstance(layer, BatchNorm):
        return torch.nn.BatchNorm1d(layer.num_features, momentum=layer.momentum, eps=layer.eps, dtype=torch.float64)
    if isinstance(layer, ReLU):
        return torch.nn.ReLU()
    raise TypeError(f"no torch twin for {type(layer).__name__}")


@pytest.mark.parametrize("residual", [False, True], ids=["plain", "residual"])
def test_a_20_layer_batchnorm_net_trains_step_for_step_like_torch(residual):
    rng = np.random.default_rng(0)
    config = ResNetConfig(in_features=12, out_features=4, depth=20, width=16, residual=residual, batchnorm=True)
    model = build_model(config, rng, dtype=np.float64)
    twin = _to_torch(model)
    x, y = rng.standard_normal((96, 12)), rng.integers(0, 4, 96)
    trainer = Trainer(model, SoftmaxCrossEntropy(), make_optimizer("adam", 0.01), batch_size=32, rng=rng)
    topt = torch.optim.Adam(twin.parameters(), lr=0.01)
    for step in range(15):
        idx = rng.permutation(96)[:32]
        ours = trainer.train_batch(x[idx], y[idx])
        twin.train()
        topt.zero_grad()
        loss = torch.nn.functional.cross_entropy(twin(torch.tensor(x[idx])), torch.tensor(y[idx]))
        loss.backward()
        topt.step()
        assert ours == pytest.approx(loss.item(), rel=1e-7), f"step {step}"
    head = f"layers.{len(model.layers) - 1}."
    for (name, p), q in zip(model.named_params(), twin.parameters(), strict=True):
        # a bias feeding BatchNorm has zero gradient in exact arithmetic (the batch mean removes it): both
        # sides move it by round-off that Adam scales up, and it cancels in every output
        pre_bn_bias = name.endswith(".b") and not name.startswith(head)
        np.testing.assert_allclose(p, q.detach().numpy().T if p.ndim == 2 else q.detach().numpy(),
                                   rtol=1e-6, atol=1e-7 if pre_bn_bias else 1e-9, err_msg=name)
    stats = [b for _, b in model.buffers()]
    theirs = [t for m in twin.modules() if isinstance(m, torch.nn.BatchNorm1d)
              for t in (m.running_mean, m.running_var)]
    for ours, t in zip(stats, theirs, strict=True):
        np.testing.assert_allclose(ours, t.numpy(), rtol=1e-6, atol=1e-9)
    twin.eval()
    with torch.no_grad():
        expected = twin(torch.tensor(x)).numpy()
    # evaluation subtracts the running mean, which lags those biases: their round-off shows, about 1e-8
    np.testing.assert_allclose(model.forward(x, training=False), expected, rtol=1e-6, atol=1e-7)
