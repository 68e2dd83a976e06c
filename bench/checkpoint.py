"""What a checkpoint costs: time and bytes to capture and encode a TrainingState, next to an epoch.

    .venv/bin/python bench/checkpoint.py [--epochs 2] [--repeats 5] [--threads 1] [--only mlp,cnn]

Cases (spec defaults, the launch form's, except where named): the perceptron on moons (the smallest
state and the shortest epoch: the worst ratio); the digits MLP; the Fashion-MNIST CNN
(data from /usr/share/datasets/fashion-mnist, or $NNLAB_DATA_DIR); the deepest ResNet (depth 200 on
digits, with BatchNorm, so running statistics are in the state too). All train with Adam, whose
m and v double the weights' bytes.

Columns:
  epoch s     median wall time of an epoch as the trainer runs it (training and evaluation)
  capture ms  Trainer.training_state() between epochs: copies of weights, buffers, optimizer slots,
              generator states, callbacks (median of --repeats)
  encode ms   encode_checkpoint(state) to bytes (median)
  % epoch     (capture + encode) / epoch
  decode ms   decode_checkpoint(bytes) (median)
  load ms     load_training_state into a freshly prepared experiment (median)
  arrays      arrays in the state; state kB: their bytes (TrainingState.nbytes); ckpt kB: encoded bytes

BLAS threads are limited with threadpoolctl to --threads; other processes may be running, so figures
are indicative.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).name == "bench":
    sys.path[0] = str(Path(sys.path[0]).parent)  # run as a script: the repo first

from engine.checkpoint import decode_checkpoint, encode_checkpoint
from engine.experiment import prepare, run_training
from engine.spec import parse_spec

CASES = {
    "perceptron": {"model": "perceptron", "dataset": "moons"},
    "mlp": {"model": "mlp", "dataset": "digits"},
    "cnn": {"model": "cnn", "dataset": "fashion-mnist"},
    "resnet200": {"model": "resnet", "dataset": "digits", "depth": 200, "batchnorm": True},
}


def _median_ms(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, out


class EpochClock:
    """Wall time of each epoch (training and evaluation), and the trainer, for capturing after the last."""

    def on_train_start(self, context):
        self.trainer, self.times, self.t0 = context["trainer"], [], time.perf_counter()

    def on_epoch_end(self, record):
        now = time.perf_counter()
        self.times.append(now - self.t0)
        self.t0 = now

    def on_train_end(self, summary):
        pass


class Capture(EpochClock):
    """Times capture and encode at the end of the last epoch (while it is still between epochs)."""

    def __init__(self, epochs: int, repeats: int) -> None:
        self.epochs, self.repeats, self.figures = epochs, repeats, {}

    def on_epoch_end(self, record):
        super().on_epoch_end(record)
        if record.epoch == self.epochs:
            self.figures["capture"], state = _median_ms(self.trainer.training_state, self.repeats)
            self.figures["encode"], blob = _median_ms(lambda: encode_checkpoint(state), self.repeats)
            self.figures["state"], self.figures["blob"] = state, blob
        self.t0 = time.perf_counter()  # the epoch clock leaves the measurement out


def bench_case(name: str, epochs: int, repeats: int) -> dict:
    spec = parse_spec({**CASES[name], "epochs": epochs, "optimizer": "adam"})
    exp = prepare(spec)
    cap = Capture(epochs, repeats)
    run_training(exp, [cap])
    f = cap.figures
    f["decode"], state = _median_ms(lambda: decode_checkpoint(f["blob"]), repeats)
    fresh = prepare(spec, data=exp.data)
    f["load"], _ = _median_ms(lambda: fresh.trainer.load_training_state(state), repeats)
    f["epoch"] = statistics.median(cap.times)
    return f


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--only", default=",".join(CASES))
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, BLAS threads: {args.threads}, "
          f"epochs: {args.epochs}, repeats: {args.repeats}")
    print(f"{'case':10s} {'epoch s':>8s} {'capture ms':>10s} {'encode ms':>9s} {'% epoch':>7s} {'decode ms':>9s} "
          f"{'load ms':>7s} {'arrays':>6s} {'state kB':>9s} {'ckpt kB':>8s}")
    with threadpool_limits(args.threads, user_api="blas"):
        for name in args.only.split(","):
            f = bench_case(name, args.epochs, args.repeats)
            share = (f["capture"] + f["encode"]) / 1e3 / f["epoch"] * 100
            print(f"{name:10s} {f['epoch']:8.3f} {f['capture']:10.2f} {f['encode']:9.2f} {share:7.3g} "
                  f"{f['decode']:9.2f} {f['load']:7.2f} {len(f['state'].arrays):6d} "
                  f"{f['state'].nbytes / 1e3:9.1f} {len(f['blob']) / 1e3:8.1f}", flush=True)


if __name__ == "__main__":
    main()
