"""The training loop. It emits records to callbacks; it never stores anything itself."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .optim import Optimizer, clip_global_norm
from .state import TrainingState, capture_state, fork_state, restore_callbacks, restore_trainer

# Train metrics are measured in evaluation mode on at most this many training samples.
TRAIN_EVAL_CAP = 10_000


@dataclass(frozen=True)
class EpochRecord:
    """What one epoch produced. `metrics` holds every logged key, losses and accuracies included."""

    epoch: int
    train_loss: float
    val_loss: float
    metrics: dict[str, float]
    lr: float
    seconds: float


@dataclass
class TrainSummary:
    """How training ended: 'completed', 'stopped' (a callback asked) or 'diverged'."""

    epochs_run: int
    outcome: str
    stopped_by: str = ""
    best_epoch: int = 0
    final: dict[str, float] = field(default_factory=dict)


class Callback(Protocol):
    """Hooks the trainer calls. `on_epoch_end` returning True asks training to stop."""

    def on_train_start(self, context: dict[str, Any]) -> None: ...
    def on_epoch_end(self, record: EpochRecord) -> bool | None: ...
    def on_train_end(self, summary: TrainSummary) -> None: ...


def iterate_minibatches(n: int, batch_size: int, rng: np.random.Generator, shuffle: bool = True):
    """Yield index arrays covering 0..n-1 once, reshuffled from `rng` each call.

    A trailing batch of one sample joins the batch before it (BatchNorm needs two per batch).
    """
    order = rng.permutation(n) if shuffle else np.arange(n)
    stops = list(range(batch_size, n, batch_size)) + [n]
    if batch_size > 1 and len(stops) > 1 and stops[-1] - stops[-2] == 1:
        stops.pop(-2)
    start = 0
    for stop in stops:
        yield order[start:stop]
        start = stop


class Trainer:
    """Mini-batch training of any model that meets the layer interface (or has `train_batch`)."""

    def __init__(self, model, loss, optimizer: Optimizer, *, batch_size: int, rng: np.random.Generator,
                 lr_schedule: Callable[[int], float] | None = None, clip: float = 0.0) -> None:
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.batch_size, self.rng, self.clip = batch_size, rng, clip
        self.lr_schedule = lr_schedule or (lambda epoch: optimizer.lr)
        self.last_grad_norm = 0.0
        # (epochs done, callbacks, that epoch's metrics) between epochs; None while an epoch runs or after fit
        self._boundary: tuple[int, Sequence[Callback], dict] | None = (0, (), {})

    def training_state(self) -> TrainingState:
        """Copy everything needed to continue this run exactly from here: model, optimizer, generators,
        the stateful callbacks of the current fit (EarlyStopping), the epoch count.

        Call it between epochs: from a callback's `on_epoch_end` (the record's epoch is the state's), or
        before `fit`. In `on_train_start` (callbacks may not have their state yet), while an epoch runs
        and after `fit` returns (EarlyStopping may have put the best weights back) there is no
        consistent state to take: RuntimeError.
        """
        if self._boundary is None:
            raise RuntimeError("a training state is taken between epochs: from a callback's on_epoch_end "
                               "or before fit")
        epoch, callbacks, final = self._boundary
        return capture_state(self, epoch, callbacks=callbacks, final=final)

    def load_training_state(self, state: TrainingState, *, callbacks: Sequence[Callback] = (),
                            fork: bool = False) -> None:
        """Take up `state` (see engine.state for resume vs fork). To train on from it, pass it to
        `fit(start=...)` instead, which also restores callback state after their `on_train_start`."""
        if fork:
            state = fork_state(self.model, state)
        restore_trainer(self, state, fork=fork)
        restore_callbacks(callbacks, state, fork=fork)
        self._boundary = (state.epoch, tuple(callbacks), dict(state.meta.get("final", {})))

    def train_batch(self, xb: np.ndarray, yb: np.ndarray) -> float:
        """One forward, backward and update; returns the batch loss."""
        model = self.model
        if hasattr(model, "train_batch"):  # rule-based learners (the perceptron)
            return model.train_batch(xb, yb, self.optimizer.lr)
        # models that need the targets to train (teacher forcing) expose forward_train; evaluation
        # still calls forward(xb, training=False), which must not see them
        if hasattr(model, "forward_train"):
            out = model.forward_train(xb, yb)
        else:
            out = model.forward(xb, training=True)
        loss = self.loss.value(out, yb)
        skip = getattr(model, "input_grad", False)  # no one needs d loss / d data: skip it
        if skip:
            model.input_grad = False
        try:
            model.backward(self.loss.grad(out, yb))
        finally:
            if skip:
                model.input_grad = True
        if self.clip > 0:
            self.last_grad_norm = clip_global_norm([g for _, g in model.named_grads()], self.clip)
        self.optimizer.step(model.named_params(), model.named_grads())
        return loss

    def evaluate(self, x: np.ndarray, y: np.ndarray, batch_size: int = 1024) -> tuple[float, float]:
        """(mean loss, accuracy) in evaluation mode."""
        total_loss, correct, count = 0.0, 0, 0
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            out = self.model.forward(xb, training=False)
            total_loss += self.loss.value(out, yb) * len(xb)
            correct += int((self.loss.predict(out) == yb).sum())
            count += yb.size
        return total_loss / max(len(x), 1), correct / max(count, 1)

    def fit(self, data, *, epochs: int, callbacks: Sequence[Callback] = (),
            interrupt: Callable[[], bool] | None = None, context: dict | None = None,
            start: TrainingState | None = None, fork: bool = False) -> TrainSummary:
        """Train up to epoch `epochs`; stop early on a callback's request, on `interrupt()`, or on divergence.

        With `start` (a state taken after epoch k), training goes on from epoch k + 1 exactly as the run
        that took it did (`fork=True`: into a run with one knob changed; see engine.state). Callbacks see
        `context["start_epoch"]` = k and records numbered k + 1, k + 2, ...
        """
        first, self._boundary = 0, None  # no consistent state until the callbacks have theirs
        if start is not None:
            start = fork_state(self.model, start) if fork else start
            restore_trainer(self, start, fork=fork)
            first = start.epoch
        ctx = {"model": self.model, "trainer": self, "data": data, "epochs": epochs, "start_epoch": first,
               **(context or {})}
        for cb in callbacks:
            cb.on_train_start(ctx)
        summary = TrainSummary(epochs_run=first, outcome="completed")
        if start is not None:
            restore_callbacks(callbacks, start, fork=fork)  # after on_train_start, which resets them
            summary.final = dict(start.meta.get("final", {}))
        self._boundary = (first, tuple(callbacks), summary.final)
        n = len(data.x_train)
        eval_idx = np.arange(min(n, TRAIN_EVAL_CAP))
        last_poll = time.monotonic()
        for epoch in range(first, epochs):
            self._boundary = None
            lr = float(self.lr_schedule(epoch))
            self.optimizer.lr = lr
            t0 = time.perf_counter()
            diverged = False
            for idx in iterate_minibatches(n, self.batch_size, self.rng):
                batch_loss = self.train_batch(data.x_train[idx], data.y_train[idx])
                if not math.isfinite(batch_loss):
                    diverged = True
                    break
                if interrupt is not None and time.monotonic() - last_poll > 1.0:
                    last_poll = time.monotonic()
                    if interrupt():
                        summary.outcome, summary.stopped_by = "stopped", "interrupt"
                        break
            train_seconds = time.perf_counter() - t0
            if summary.outcome == "stopped":
                break
            train_loss, train_acc = self.evaluate(data.x_train[eval_idx], data.y_train[eval_idx])
            val_loss, val_acc = self.evaluate(data.x_val, data.y_val)
            if diverged or not math.isfinite(train_loss):
                train_loss = float("nan") if diverged else train_loss
            metrics = {"train_loss": train_loss, "val_loss": val_loss, "train_accuracy": train_acc,
                       "val_accuracy": val_acc, "lr": lr, "epoch_seconds": train_seconds}
            if self.clip > 0:
                metrics["grad_norm"] = self.last_grad_norm
            if hasattr(self.model, "epoch_metrics"):  # e.g. the perceptron's error count
                metrics.update(self.model.epoch_metrics())
            record = EpochRecord(epoch + 1, train_loss, val_loss, metrics, lr, train_seconds)
            summary.epochs_run = epoch + 1
            summary.final = metrics
            self._boundary = (epoch + 1, tuple(callbacks), metrics)
            stop = False
            for cb in callbacks:
                if cb.on_epoch_end(record):
                    stop = True
                    summary.stopped_by = summary.stopped_by or type(cb).__name__
            if diverged or not (math.isfinite(train_loss) and math.isfinite(val_loss)):
                summary.outcome = "diverged"
                break
            if stop or (interrupt is not None and interrupt()):
                summary.outcome = "stopped"
                summary.stopped_by = summary.stopped_by or "interrupt"
                break
        self._boundary = None
        for cb in callbacks:
            cb.on_train_end(summary)
        return summary
