"""Time one training epoch of our recurrent and Transformer layers against PyTorch CPU.

    .venv/bin/python bench/engine_sequence.py [--repeats 5] [--threads 1,2] [--only lstm]

Workloads (float32, Adam lr 1e-3, cross-entropy over 10 classes, shuffled mini-batches of 64, 2,000
random sequences): vanilla RNN, LSTM and GRU over T=50 steps of 16 features with 64 hidden units, the
head on the last step; one Transformer encoder block (post-norm, width 64, 4 heads, feed-forward 128)
over T=32 steps of 64 features, mean-pooled into the head. Each cell is the median of `--repeats` epochs
after one warm-up epoch, our epochs and PyTorch's interleaved so that both see the same background load;
ratio = ours / torch (below 1: we are faster). Wall-clock seconds first, then CPU seconds of this process
(time.process_time: all threads together), which a busy shared machine disturbs much less. NumPy's BLAS
threads are set with threadpoolctl, PyTorch's with torch.set_num_threads. Other processes on the machine
may be running; the figures are indicative, not a test. bench/engine.py includes WORKLOADS in its own
table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).name == "bench":
    sys.path[0] = str(Path(sys.path[0]).parent)  # run as a script: the repo (with `engine`) first

import numpy as np

from engine.layers import Dense, EncoderBlock
from engine.layers.transformer import Composite
from engine.losses import SoftmaxCrossEntropy
from engine.models import RecurrentConfig, build_model
from engine.optim import Adam
from engine.train import Trainer, iterate_minibatches

Factory = Callable[[], Callable[[], None]]
SEED, N_SEQ, BATCH, CLASSES = 0, 2_000, 64, 10


def _data(shape: tuple[int, ...]):
    rng = np.random.default_rng(SEED)
    return rng.standard_normal((N_SEQ, *shape)).astype(np.float32), rng.integers(0, CLASSES, N_SEQ)


class PooledBlock(Composite):
    """One encoder block on float features, mean-pooled over time, then a Dense head."""

    def __init__(self, d_model: int, heads: int, ffn: int, rng: np.random.Generator) -> None:
        super().__init__()
        self.block = EncoderBlock(d_model, heads, ffn, rng=rng, norm="post")
        self.head = Dense(d_model, CLASSES, rng=rng, init="xavier")
        self.children = {"block": self.block, "head": self.head}

    @property
    def input_grad(self) -> bool:
        """The trainer turns this off: like PyTorch, no gradient for the (data) input."""
        return self.block.input_grad

    @input_grad.setter
    def input_grad(self, value: bool) -> None:
        self.block.input_grad = value

    def forward(self, x, *, training=False):
        h = self.block.forward(x, training=training)
        self._T = h.shape[1]
        return self.head.forward(h.mean(axis=1), training=training)

    def backward(self, dout):
        dh = self.head.backward(dout)
        dh = np.broadcast_to(dh[:, None, :] / self._T, (len(dh), self._T, dh.shape[-1]))
        return self.block.backward(np.ascontiguousarray(dh))


def ours(build: Callable[[np.random.Generator], object], shape: tuple[int, ...]) -> Factory:
    """Our engine: the model, Trainer.train_batch over one shuffled epoch."""
    def factory():
        x, y = _data(shape)
        rng = np.random.default_rng(SEED)
        trainer = Trainer(build(rng), SoftmaxCrossEntropy(), Adam(1e-3), batch_size=BATCH, rng=rng)

        def epoch():
            for idx in iterate_minibatches(N_SEQ, BATCH, rng):
                trainer.train_batch(x[idx], y[idx])
        return epoch
    return factory


def theirs(build: Callable, shape: tuple[int, ...]) -> Factory:
    """PyTorch: the same loop written the usual way (zero_grad, backward, step)."""
    def factory():
        import torch

        torch.manual_seed(SEED)
        x_np, y_np = _data(shape)
        x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
        model = build(torch)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = torch.nn.CrossEntropyLoss()
        model.train()

        def epoch():
            order = torch.randperm(N_SEQ)
            for start in range(0, N_SEQ, BATCH):
                idx = order[start:start + BATCH]
                opt.zero_grad(set_to_none=True)
                loss_fn(model(x[idx]), y[idx]).backward()
                opt.step()
        return epoch
    return factory


def _our_recurrent(cell: str):
    config = RecurrentConfig(cell=cell, vocab_size=0, in_features=16, hidden=64, out_features=CLASSES)
    return lambda rng: build_model(config, rng)


def _torch_recurrent(cell: str):
    def build(torch):
        class LastStep(torch.nn.Module):
            def __init__(self):
                super().__init__()
                cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
                self.rnn, self.head = cls(16, 64, batch_first=True), torch.nn.Linear(64, CLASSES)

            def forward(self, x):
                return self.head(self.rnn(x)[0][:, -1])
        return LastStep()
    return build


def _torch_block(torch):
    class PooledBlock(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.block = torch.nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True)
            self.head = torch.nn.Linear(64, CLASSES)

        def forward(self, x):
            return self.head(self.block(x).mean(dim=1))
    return PooledBlock()


WORKLOADS: list[tuple[str, Factory, Factory]] = [
    *[(f"{cell.upper()} T50 in16 h64, 2k, b64", ours(_our_recurrent(cell), (50, 16)),
       theirs(_torch_recurrent(cell), (50, 16))) for cell in ("rnn", "lstm", "gru")],
    ("Transformer block T32 d64 h4 ffn128, 2k, b64", ours(lambda rng: PooledBlock(64, 4, 128, rng), (32, 64)),
     theirs(_torch_block, (32, 64))),
]


def time_interleaved(factories: list[Factory], repeats: int) -> list[tuple[float, float]]:
    """(median wall seconds, median CPU seconds) per epoch of each factory's epoch function, after one
    warm-up epoch each; the epochs of the different factories alternate."""
    epochs = [factory() for factory in factories]
    for epoch in epochs:
        epoch()
    walls: list[list[float]] = [[] for _ in epochs]
    cpus: list[list[float]] = [[] for _ in epochs]
    for _ in range(repeats):
        for epoch, wall, cpu in zip(epochs, walls, cpus, strict=True):
            t0, c0 = time.perf_counter(), time.process_time()
            epoch()
            wall.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
    return [(statistics.median(w), statistics.median(c)) for w, c in zip(walls, cpus, strict=True)]


def main(argv: list[str] | None = None) -> None:
    """Print a table: workload, threads, our epoch, torch's epoch, ratio."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--only", default="", help="run workloads whose name contains this text")
    args = parser.parse_args(argv)
    import torch
    from threadpoolctl import threadpool_limits

    print("Other processes may be running on this machine; figures are indicative.")
    print(f"{'workload':46s} {'thr':>3s} {'ours s':>8s} {'torch s':>8s} {'ratio':>6s}   "
          f"{'ours cpu':>8s} {'torch cpu':>9s} {'ratio':>6s}")
    for name, our_factory, torch_factory in WORKLOADS:
        if args.only.lower() not in name.lower():
            continue
        for threads in (int(t) for t in args.threads.split(",")):
            torch.set_num_threads(threads)
            with threadpool_limits(threads, user_api="blas"):
                (ours_s, ours_c), (torch_s, torch_c) = time_interleaved([our_factory, torch_factory], args.repeats)
            print(f"{name:46s} {threads:3d} {ours_s:8.3f} {torch_s:8.3f} {ours_s / torch_s:6.2f}   "
                  f"{ours_c:8.3f} {torch_c:9.3f} {ours_c / torch_c:6.2f}", flush=True)


if __name__ == "__main__":
    main()
