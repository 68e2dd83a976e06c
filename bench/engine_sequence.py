"""Recurrent and Transformer workloads for bench/engine.py, which times them against PyTorch CPU:

    .venv/bin/python bench/engine.py --only lstm      (or rnn, gru, transformer)

Workloads (float32, Adam lr 1e-3, cross-entropy over 10 classes, shuffled mini-batches of 64, 2,000
random sequences): vanilla RNN, LSTM and GRU over T=50 steps of 16 features with 64 hidden units, the
head on the last step; one Transformer encoder block (post-norm, width 64, 4 heads, feed-forward 128)
over T=32 steps of 64 features, mean-pooled into the head.
"""

from __future__ import annotations

import numpy as np

from bench.engine import Factory, ours, theirs
from engine.layers import Dense, EncoderBlock
from engine.layers.transformer import Composite
from engine.models import RecurrentConfig

N_SEQ, BATCH, CLASSES = 2_000, 64, 10


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


def _our_recurrent(cell: str) -> RecurrentConfig:
    return RecurrentConfig(cell=cell, vocab_size=0, in_features=16, hidden=64, out_features=CLASSES)


def _torch_recurrent(cell: str):
    def build(nn):
        class LastStep(nn.Module):
            def __init__(self):
                super().__init__()
                cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
                self.rnn, self.head = cls(16, 64, batch_first=True), nn.Linear(64, CLASSES)

            def forward(self, x):
                return self.head(self.rnn(x)[0][:, -1])
        return LastStep()
    return build


def _torch_block(nn):
    class PooledBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = nn.TransformerEncoderLayer(64, 4, 128, dropout=0.0, batch_first=True)
            self.head = nn.Linear(64, CLASSES)

        def forward(self, x):
            return self.head(self.block(x).mean(dim=1))
    return PooledBlock()


WORKLOADS: list[tuple[str, Factory, Factory]] = [
    *[(f"{cell.upper()} T50 in16 h64, 2k, b64", ours(_our_recurrent(cell), N_SEQ, (50, 16), BATCH),
       theirs(_torch_recurrent(cell), N_SEQ, (50, 16), BATCH)) for cell in ("rnn", "lstm", "gru")],
    ("Transformer block T32 d64 h4 ffn128, 2k, b64",
     ours(lambda rng: PooledBlock(64, 4, 128, rng), N_SEQ, (32, 64), BATCH),
     theirs(_torch_block, N_SEQ, (32, 64), BATCH)),
]
