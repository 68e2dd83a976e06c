"""Engine-side training callbacks (they meet `engine.train.Callback`)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .train import EpochRecord, TrainSummary


class EarlyStopping:
    """Stop after `patience` epochs without improvement of `monitor`; restore the best weights.

    The model comes from the trainer's context (`context["model"]`). At the end of training the
    best epoch's parameters and buffers are copied back, `summary.best_epoch` is set, and
    `summary.final` becomes that epoch's metrics plus `best_epoch`, so the summary describes the
    model that training returns.
    """

    def __init__(self, patience: int, *, monitor: str = "val_loss", mode: str = "min",
                 min_delta: float = 0.0, restore_best: bool = True) -> None:
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        if mode not in ("min", "max"):
            raise ValueError(f"mode must be min or max, got {mode!r}")
        self.patience, self.monitor, self.mode = patience, monitor, mode
        self.min_delta, self.restore_best = min_delta, restore_best
        self.model = None
        self.best: float | None = None
        self.best_epoch = 0
        self.best_metrics: dict[str, float] = {}
        self.wait = 0
        self._snapshot: dict[str, np.ndarray] = {}

    def on_train_start(self, context: dict[str, Any]) -> None:
        self.model = context["model"]
        self.best, self.best_epoch, self.best_metrics, self.wait = None, 0, {}, 0
        self._snapshot = {}

    def _improved(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def _state(self):
        yield from (("param/" + n, a) for n, a in self.model.named_params())
        yield from (("buffer/" + n, a) for n, a in self.model.buffers())

    def on_epoch_end(self, record: EpochRecord) -> bool:
        value = float(record.metrics.get(self.monitor, math.nan))
        if self._improved(value):
            self.best, self.best_epoch, self.best_metrics, self.wait = value, record.epoch, dict(record.metrics), 0
            if self.restore_best:
                self._snapshot = {name: a.copy() for name, a in self._state()}
            return False
        self.wait += 1
        return self.wait >= self.patience

    def get_state(self) -> tuple[dict, dict[str, np.ndarray]]:
        """(scalars, arrays) to continue exactly: best value, epoch and metrics, wait, best weights (copies)."""
        scalars = {"best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                   "best_metrics": {k: float(v) for k, v in self.best_metrics.items()}}
        return scalars, {name: a.copy() for name, a in self._snapshot.items()}

    def set_state(self, scalars: dict, arrays: dict[str, np.ndarray]) -> None:
        """Take up the state `get_state` returned (after `on_train_start`, which resets it)."""
        self.best, self.best_epoch, self.wait = scalars["best"], scalars["best_epoch"], scalars["wait"]
        self.best_metrics = dict(scalars["best_metrics"])
        self._snapshot = {name: a.copy() for name, a in arrays.items()}

    def on_train_end(self, summary: TrainSummary) -> None:
        if not self.best_epoch:
            return
        summary.best_epoch = self.best_epoch
        if self.restore_best and self._snapshot and self.best_epoch != summary.epochs_run:
            for name, a in self._state():
                a[...] = self._snapshot[name]
            summary.final = {**self.best_metrics, "best_epoch": float(self.best_epoch)}
        else:
            summary.final = {**summary.final, "best_epoch": float(self.best_epoch)}
