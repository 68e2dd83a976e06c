"""Time one recurrent layer alone, forward and backward, ours against PyTorch's module, interleaved:

    .venv/bin/python bench/recurrent_layer.py [--cells lstm,gru] [--threads 1] [--repeats 80] [--products]

The shapes of bench/engine_sequence.py's workloads (a batch of 64 sequences, T=50, 16 features, 64 hidden
units), the gradient entering at the last step only, as the many-to-one models there do. Where the
epoch figures of bench/engine.py mix in the head, the loss and Adam, this shows the layer by itself:
PyTorch's CPU LSTM is one fused oneDNN kernel, its GRU is not. Prints the 25th percentile of each
phase in milliseconds (the lower quartile is steadier than the median on a shared machine).

`--products` also times the LSTM layer's matrix products alone, a batch's worth (T per-step products
forward and backward, one weight-gradient product), with NumPy's BLAS and with torch.matmul on the same
shapes: the part of the layer no rewrite of our elementwise code can shorten.
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


def time_products(repeats: int) -> dict[str, tuple[float, float]]:
    """Lower-quartile seconds a batch of the LSTM's products as `LSTMCell.scan`/`scan_backward` do them,
    ours (NumPy) and torch's (the same shapes, torch.matmul), run alternately: name -> (ours, torch)."""
    import torch

    rng = np.random.default_rng(0)
    K, G = D + H + 1, 4 * H  # a step's row [x_t, h_{t-1}, 1]; the four gates side by side
    z = rng.standard_normal((N, K)).astype(np.float32)
    w = np.ascontiguousarray(rng.standard_normal((4, K, H)).astype(np.float32))  # gate-major stacked weights
    da = rng.standard_normal((N, G)).astype(np.float32)
    wh_t = rng.standard_normal((G, H)).astype(np.float32)
    zs = rng.standard_normal((T * N, K)).astype(np.float32)
    das = rng.standard_normal((T * N, G)).astype(np.float32)
    a, dh = np.empty((4, N, H), np.float32), np.empty((N, H), np.float32)
    tz, tw, tda, twh, tzs, tdas = (torch.from_numpy(v) for v in (z, w, da, wh_t, zs, das))
    ta, tdh = torch.empty(4, N, H), torch.empty(N, H)
    cases = {
        "forward, per step x T": (lambda: [np.matmul(z, w, out=a) for _ in range(T)],
                                  lambda: [torch.matmul(tz, tw, out=ta) for _ in range(T)]),
        "backward to h, per step x T": (lambda: [np.matmul(da, wh_t, out=dh) for _ in range(T)],
                                        lambda: [torch.matmul(tda, twh, out=tdh) for _ in range(T)]),
        "weight gradient, once": (lambda: zs.T @ das, lambda: tzs.T @ tdas),
    }
    out = {}
    for name, (ours, theirs) in cases.items():
        times: tuple[list[float], list[float]] = ([], [])
        for r in range(repeats + 5):
            for fn, acc in ((ours, times[0]), (theirs, times[1])):
                t0 = time.perf_counter()
                fn()
                if r >= 5:
                    acc.append(time.perf_counter() - t0)
        out[name] = (float(np.percentile(times[0], 25)), float(np.percentile(times[1], 25)))
    return out


def main(argv: list[str] | None = None) -> None:
    """Print, per cell: ours and torch's forward and backward in ms, and the ratio of the sums."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cells", default="lstm,gru")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=80)
    parser.add_argument("--products", action="store_true", help="also time the LSTM's matrix products alone")
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
    if args.products:
        with threadpool_limits(args.threads, user_api="blas"):
            products = time_products(args.repeats)
        print(f"\nLSTM matrix products, a batch's worth, ms ({args.threads} thread(s)):")
        print(f"{'product':28s} {'NumPy':>7s} {'torch':>7s} {'ratio':>6s}")
        for name, (ours, theirs) in [*products.items(),
                                     ("all", tuple(sum(v[i] for v in products.values()) for i in (0, 1)))]:
            print(f"{name:28s} {ours * 1e3:7.2f} {theirs * 1e3:7.2f} {ours / theirs:6.2f}")


if __name__ == "__main__":
    main()
