"""BatchNorm in the 20-layer dense network: plain and residual, with and without, at two learning rates.

    .venv/bin/python bench/batchnorm_depth.py [--depth 20] [--subset 300] [--epochs 20] [--lrs 0.001,0.01]
                                              [--seeds 3] [--threads 1]

Prints, for each learning rate, each arm's validation accuracy at a few epochs (mean over the seeds),
the final value per seed and the final training accuracy (evaluation mode, as the trainer reports it).
Then two measurements at initialisation (no training) of the plain net with and without BatchNorm:
  probe   validation accuracy of a ridge classifier on the last hidden layer's outputs (batch statistics,
          batches of 32): how much of the digits' class structure survives the random stack (chance 0.10)
  dW/W    ||dW|| / ||W|| of the first hidden Dense over that of the last, for one batch of 32: how much
          faster the gradient grows towards the input than the weights do

The figures quoted in the README (Limits) come from this script. They are what the maths gives, not an
engine fault: tests/engine/test_resnet_torch.py trains the same network step for step against PyTorch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

if __name__ == "__main__" and Path(sys.path[0]).name == "bench":
    sys.path[0] = str(Path(sys.path[0]).parent)  # run as a script: the repo first

from engine.experiment import prepare, run_training
from engine.spec import ExperimentSpec

ARMS = {"plain": (False, False), "plain+BN": (False, True), "residual": (True, False), "residual+BN": (True, True)}


class _History:
    def __init__(self) -> None:
        self.rows: list[dict] = []

    def on_train_start(self, context) -> None: ...
    def on_epoch_end(self, record) -> None: self.rows.append(record.metrics)
    def on_train_end(self, summary) -> None: ...


def _spec(args, residual: bool, batchnorm: bool, seed: int, lr: float) -> ExperimentSpec:
    return ExperimentSpec(model="resnet", dataset="digits", depth=args.depth, subset=args.subset, epochs=args.epochs,
                          lr=lr, residual=residual, batchnorm=batchnorm, seed=seed, snapshots=False)


def training_table(args, lr: float) -> None:
    """One row per arm: validation accuracy over the epochs, per seed, and the final training accuracy."""
    marks = sorted({1, *range(5, args.epochs + 1, 5), args.epochs})
    print(f"\nlr {lr:g}, depth {args.depth}, {args.subset or 'all'} training digits, {args.seeds} seeds")
    print(f"{'arm':12s} val acc at epochs {','.join(map(str, marks)):14s} final val per seed  final train")
    for arm, (residual, batchnorm) in ARMS.items():
        runs = []
        for seed in range(args.seeds):
            history = _History()
            run_training(prepare(_spec(args, residual, batchnorm, seed, lr)), [history])
            runs.append(history.rows)
        curve = " ".join(f"{np.mean([r[e - 1]['val_accuracy'] for r in runs]):.2f}" for e in marks)
        seeds = " ".join(f"{r[-1]['val_accuracy']:.2f}" for r in runs)
        train = np.mean([r[-1]["train_accuracy"] for r in runs])
        print(f"{arm:12s} {curve:32s} {seeds:19s} {train:.2f}")


def _ridge_probe(f_train, y_train, f_val, y_val) -> float:
    mu, sd = f_train.mean(0), f_train.std(0) + 1e-6
    a = np.c_[(f_train - mu) / sd, np.ones(len(f_train))]
    b = np.c_[(f_val - mu) / sd, np.ones(len(f_val))]
    w = np.linalg.solve(a.T @ a + np.eye(a.shape[1]), a.T @ np.eye(10)[y_train])
    return float(((b @ w).argmax(1) == y_val).mean())


def _hidden(model, x):
    for layer in model.layers[:-1]:
        x = layer.forward(x, training=True)
    return x


def at_initialisation(args) -> None:
    """Probe accuracy and gradient growth of the untrained plain net, with and without BatchNorm."""
    print(f"\nat initialisation, plain depth {args.depth} (mean over {args.seeds} seeds)")
    for batchnorm in (False, True):
        probes, growth = [], []
        for seed in range(args.seeds):
            exp = prepare(_spec(args, False, batchnorm, seed, 0.001))
            model, data = exp.model, exp.data
            n_train, n_val = len(data.x_train) // 32 * 32, len(data.x_val) // 32 * 32
            f_train = np.concatenate([_hidden(model, data.x_train[i:i + 32]) for i in range(0, n_train, 32)])
            f_val = np.concatenate([_hidden(model, data.x_val[i:i + 32]) for i in range(0, n_val, 32)])
            probes.append(_ridge_probe(f_train, data.y_train[:n_train], f_val, data.y_val[:n_val]))
            out = model.forward(data.x_train[:32], training=True)
            model.backward(exp.trainer.loss.grad(out, data.y_train[:32]))
            ratio = [np.linalg.norm(g) / np.linalg.norm(p) for (name, p), (_, g)
                     in zip(model.named_params(), model.named_grads()) if name.endswith("W")]
            growth.append(ratio[0] / ratio[-2])  # the stem over the last hidden Dense (the head is last)
        label = "with BatchNorm" if batchnorm else "without"
        print(f"{label:15s} probe {np.mean(probes):.2f}   dW/W first over last hidden x{np.mean(growth):.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=20)
    parser.add_argument("--subset", type=int, default=300)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--lrs", default="0.001,0.01")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads):
        for lr in (float(v) for v in args.lrs.split(",")):
            training_table(args, lr)
        at_initialisation(args)


if __name__ == "__main__":
    main()
