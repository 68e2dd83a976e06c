"""Time one recurrent layer alone, forward and backward, ours against PyTorch's module, interleaved:

    .venv/bin/python bench/recurrent_layer.py [--cells lstm,gru] [--threads 1] [--repeats 80]

The shapes of bench/engine_sequence.py's workloads (a batch of 64 sequences, T=50, 16 features, 64 hidden
units), the gradient entering at the last step only, as the many-to-one models there do. Where the
epoch figures of bench/engine.py mix in the head, the loss and Adam, this shows the layer by itself:
PyTorch's CPU LSTM is one fused oneDNN kernel, its GRU is not. Prints the 25th percentile of each
phase in milliseconds (the lower quartile is steadier than the median on a shared machine).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).name == "bench":
    sys.path[0] = str(Path(sys.path[0]).parent)

import numpy as np

from engine.layers import Recurrent

T, N, D, H = 50, 64, 16, 64


def time_cell(cell: str, repeats: int) -> dict[str, float]:
    """Lower-quartile seconds of ours and torch's forward and backward, run alternately."""
    import torch

    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, T, D)).astype(np.float32)
    g = rng.standard_normal((N, H)).astype(np.float32)
    ours = Recurrent(cell, D, H, rng=rng)
    ours.input_grad = False  # as the trainer sets it for a model's first layer; torch's x needs no grad
    theirs = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](D, H, batch_first=True)
    tx, tg = torch.from_numpy(x), torch.from_numpy(g)
    times: dict[str, list[float]] = {"ours fwd": [], "ours bwd": [], "torch fwd": [], "torch bwd": []}
    for r in range(repeats + 10):
        t0 = time.perf_counter()
        ours.forward(x, training=True)
        t1 = time.perf_counter()
        ours.backward(None, dstate=(g,))
        t2 = time.perf_counter()
        theirs.zero_grad(set_to_none=True)
        t3 = time.perf_counter()
        last = theirs(tx)[0][:, -1]
        t4 = time.perf_counter()
        last.backward(tg)
        t5 = time.perf_counter()
        if r >= 10:  # warm-up
            for key, dt in zip(times, (t1 - t0, t2 - t1, t4 - t3, t5 - t4)):
                times[key].append(dt)
    return {k: float(np.percentile(v, 25)) for k, v in times.items()}


def main(argv: list[str] | None = None) -> None:
    """Print, per cell: ours and torch's forward and backward in ms, and the ratio of the sums."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=80)
    args = parser.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(args.threads)
    print("Other processes may be running on this machine; figures are indicative.")
    print(f"{'cell':5s} {'thr':>3s} {'ours fwd':>9s} {'ours bwd':>9s} {'torch fwd':>9s} {'torch bwd':>9s} {'ratio':>6s}")
    for cell in args.cells.split(","):
        with threadpool_limits(args.threads, user_api="blas"):
            t = time_cell(cell, args.repeats)
        ratio = (t["ours fwd"] + t["ours bwd"]) / (t["torch fwd"] + t["torch bwd"])
        print(f"{cell:5s} {args.threads:3d} " + " ".join(f"{v * 1e3:9.2f}" for v in t.values()) + f" {ratio:6.2f}",
              flush=True)


if __name__ == "__main__":
    main()
