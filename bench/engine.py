"""Time one training epoch of our NumPy engine against PyTorch CPU on the same workloads.

    .venv/bin/python -m bench.engine [--repeats 5] [--threads 1,2] [--only mlp]

Same shapes, float32, Adam (lr 1e-3), cross-entropy, shuffled mini-batches; BLAS threads set with
threadpoolctl for NumPy and torch.set_num_threads for PyTorch. Each cell is the median of
`--repeats` epochs after one warm-up epoch each, our epochs and PyTorch's interleaved so that both
see the same background load. Ratio = ours / torch (below 1: we are faster). Wall-clock seconds
first, then CPU seconds of this process (time.process_time, all threads), which a busy shared
machine disturbs much less. Other processes on the machine may be running; the figures are
indicative, not a test.

To add workloads, append (name, our_factory, torch_factory) to WORKLOADS, where a factory takes no
arguments, builds data and model, and returns a zero-argument function that runs one epoch (`ours` and
`theirs` make them). bench/engine_sequence.py contributes the recurrent and Transformer workloads the
same way (`--only lstm` runs one of them).
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).name == "bench":
    # run as a script: this file is bench/engine.py, so put the repo (with the engine package) first
    sys.path[0] = str(Path(sys.path[0]).parent)

import numpy as np

from engine.losses import SoftmaxCrossEntropy
from engine.models import CNNConfig, MLPConfig, build_model
from engine.optim import Adam
from engine.train import Trainer, iterate_minibatches

Factory = Callable[[], Callable[[], None]]
SEED = 0


def _data(n: int, shape: tuple[int, ...], classes: int = 10):
    rng = np.random.default_rng(SEED)
    return rng.standard_normal((n, *shape)).astype(np.float32), rng.integers(0, classes, n)


def ours(model, n: int, shape: tuple[int, ...], batch: int) -> Factory:
    """Factory for our engine: the model (a config for build_model, or a function of the generator
    returning a model) and Trainer.train_batch over one shuffled epoch."""
    def factory():
        x, y = _data(n, shape)
        rng = np.random.default_rng(SEED)
        model_ = model(rng) if callable(model) else build_model(model, rng)
        trainer = Trainer(model_, SoftmaxCrossEntropy(), Adam(1e-3), batch_size=batch, rng=rng)

        def epoch():
            for idx in iterate_minibatches(n, batch, rng):
                trainer.train_batch(x[idx], y[idx])
        return epoch
    return factory


def theirs(build: Callable, n: int, shape: tuple[int, ...], batch: int) -> Factory:
    """Factory for PyTorch: the same loop written the usual way (zero_grad, backward, step)."""
    def factory():
        import torch

        torch.manual_seed(SEED)
        x_np, y_np = _data(n, shape)
        x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
        model = build(torch.nn)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()

        def epoch():
            order = torch.randperm(n)
            for start in range(0, n, batch):
                idx = order[start:start + batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x[idx]), y[idx])
                loss.backward()
                opt.step()
        return epoch
    return factory


def _torch_mlp(sizes, dropout=0.0):
    def build(nn):
        layers = []
        for a, b in zip(sizes[:-2], sizes[1:-1]):
            layers += [nn.Linear(a, b), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout else [])
        layers.append(nn.Linear(sizes[-2], sizes[-1]))
        return nn.Sequential(*layers)
    return build


def _torch_cnn(nn):
    return nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(16 * 7 * 7, 10))


WORKLOADS: list[tuple[str, Factory, Factory]] = [
    ("MLP 784-128-10, 10k, b64",
     ours(MLPConfig(in_features=784, hidden=(128,), out_features=10), 10_000, (784,), 64),
     theirs(_torch_mlp((784, 128, 10)), 10_000, (784,), 64)),
    ("MLP 784-256-256-10 drop0.2, 10k, b128",
     ours(MLPConfig(in_features=784, hidden=(256, 256), out_features=10, dropout=0.2), 10_000, (784,), 128),
     theirs(_torch_mlp((784, 256, 256, 10), 0.2), 10_000, (784,), 128)),
    ("CNN c8-pool-c16-pool-fc, 2k 28x28, b64",
     ours(CNNConfig(in_channels=1, height=28, width=28, out_features=10, channels=(8, 16), hidden=()),
          2_000, (1, 28, 28), 64),
     theirs(_torch_cnn, 2_000, (1, 28, 28), 64)),
]


def extra_workloads() -> list[tuple[str, Factory, Factory]]:
    """WORKLOADS from bench/engine_sequence.py when that module exists."""
    try:
        module = importlib.import_module("bench.engine_sequence")
    except ModuleNotFoundError as err:
        if err.name != "bench.engine_sequence":
            raise
        return []
    return list(getattr(module, "WORKLOADS", []))


def time_pair(our_factory: Factory, torch_factory: Factory, repeats: int) -> dict[str, float]:
    """Median wall and CPU seconds per epoch, ours and torch's, interleaved after one warm-up each."""
    ours_epoch, torch_epoch = our_factory(), torch_factory()
    ours_epoch()
    torch_epoch()
    times: dict[str, list[float]] = {"ours": [], "torch": [], "ours_cpu": [], "torch_cpu": []}
    for _ in range(repeats):
        for key, epoch in (("ours", ours_epoch), ("torch", torch_epoch)):
            w0, c0 = time.perf_counter(), time.process_time()
            epoch()
            times[key].append(time.perf_counter() - w0)
            times[key + "_cpu"].append(time.process_time() - c0)
    return {k: statistics.median(v) for k, v in times.items()}


def main(argv: list[str] | None = None) -> None:
    """Print a table: workload, threads, wall seconds (ours, torch, ratio), CPU seconds (same)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--only", default="", help="run workloads whose name contains this text")
    args = parser.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    workloads = [w for w in WORKLOADS + extra_workloads() if args.only.lower() in w[0].lower()]
    print("Other processes may be running on this machine; figures are indicative.")
    print(f"{'workload':44s} {'thr':>3s} {'ours s':>8s} {'torch s':>8s} {'ratio':>6s}  "
          f"{'ours cpu':>8s} {'torch cpu':>9s} {'ratio':>6s}")
    for name, our_factory, torch_factory in workloads:
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)
            with threadpool_limits(threads, user_api="blas"):
                t = time_pair(our_factory, torch_factory, args.repeats)
            print(f"{name:44s} {threads:3d} {t['ours']:8.4f} {t['torch']:8.4f} {t['ours'] / t['torch']:6.2f}  "
                  f"{t['ours_cpu']:8.4f} {t['torch_cpu']:9.4f} {t['ours_cpu'] / t['torch_cpu']:6.2f}", flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
