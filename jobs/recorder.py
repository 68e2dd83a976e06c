"""RunRecorder: the training callback that writes a run's epochs to the store, in batches.

Commits: the first epoch as soon as it ends (a new run shows life at once); after that, whenever
the epochs gathered since the last commit would otherwise be more than COMMIT_EVERY_S old by the
next epoch's end; and at the end, in the transaction that gives the run its final status (`finish`).
So a run of 4 ms epochs pays one transaction per quarter second, not one per epoch, and a SIGKILL
loses at most the last quarter second of epochs.

Checkpoints: with a `checkpoint_budget_mb`, the run's training state (engine.state) is encoded at
the end of the epochs that need one and stored in the transaction that commits that epoch's batch:
- the latest: at the planned last epoch and at the epoch where Cancel is seen (once a run), and at a
  commit once the training since the previous checkpoint pays for one (its encoding and its commit, as
  the previous one cost) at CHECKPOINT_SHARE,
  replaced by the next unless it is a kept one. So a run whose encodings are cheap against its epochs
  has its latest checkpoint at its last committed epoch; one whose state is big against its epochs (a
  ResNet-200 with 0.9 s epochs and 35 ms encodings) takes one every few commits;
- kept ones: the run's first, then every stride-th, the stride chosen at the first (`checkpoint_stride`)
  so that they fit the byte budget and that encoding them takes at most CHECKPOINT_SHARE of the
  training time.
A run trained from scratch takes its first checkpoint once it has trained for CHECKPOINT_AFTER_S (a
resumed or forked run, at its first epoch): a run shorter than that has none, which for a run of small
epochs saves more than the CHECKPOINT_SHARE of its time that checkpoints may cost.
Thinning loses nothing: a resume or a fork starts from the nearest earlier checkpoint, or from the start
of a run that has none that early, and replays the run's own settings up to the epoch it needs, bit for
bit (jobs/resume.py); the share bounds that replay at about 1 / CHECKPOINT_SHARE checkpoint encodings,
and CHECKPOINT_AFTER_S one from the start. A checkpoint that cannot be taken is logged and checkpoints
stop; training never fails for it.

Cancel: every commit reads back the run's Cancel flag (storage.epoch_log), and the process's heartbeat
thread does the same every HEARTBEAT_EVERY_S while the run trains, so a long epoch neither looks like a
crash nor misses a Cancel. One heartbeat thread per process beats for every run the process is training
(a warm worker trains one run after another; it starts the thread once). It dies with the process, so
a killed trainer stops beating and is later marked crashed by storage.writes.mark_crashed_runs.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time

from engine.checkpoint import VERSION, encode_checkpoint
from engine.train import EpochRecord, TrainSummary
from storage.checkpoints import log_epochs_with_checkpoints
from storage.events import detect_events
from storage.reads import get_metric_history
from storage.writes import finish_run, heartbeat

log = logging.getLogger(__name__)
COMMIT_EVERY_S = 0.25
HEARTBEAT_EVERY_S = 5.0
EVENT_KEYS = ("train_loss", "val_loss", "val_accuracy")  # what storage.events.detect_events reads
MB = 1_000_000
CHECKPOINT_SHARE = 0.01  # at most this share of the training time goes to encoding checkpoints
CHECKPOINT_AFTER_S = 0.25  # a run trained from scratch takes no checkpoint in its first this many seconds


def checkpoint_stride(budget_bytes: int, size: int, epochs: int, *, encode_s: float = 0.0,
                      epoch_s: float = 0.0, share: float | None = None) -> int:
    """Epochs between kept checkpoints (the 1st, 1+stride-th, ... epoch of a run's training): so that they
    and the latest fit `budget_bytes` over `epochs` epochs, and, with a `share`, so that encoding one
    (`encode_s`) every stride epochs (`epoch_s` each) takes at most that share of the training time.
    1 keeps every epoch; 0 keeps none but the latest."""
    fits = budget_bytes // max(size, 1)
    if fits >= epochs:
        stride = 1
    else:
        stride = math.ceil(epochs / (fits - 1)) if fits >= 2 else 0
    if stride and share is not None:
        stride = max(stride, math.ceil(encode_s / (share * max(epoch_s, 1e-9))))
    return stride


class RunRecorder:
    """Engine callback: records `run_id`'s epochs in batches, beats its heart, and stops it on Cancel."""

    def __init__(self, engine, run_id: int, *, commit_every_s: float = COMMIT_EVERY_S,
                 heartbeat_every_s: float = HEARTBEAT_EVERY_S, checkpoint_budget_mb: float | None = None,
                 checkpoint_share: float | None = CHECKPOINT_SHARE, checkpoint_after_s: float | None = None,
                 clock=time.monotonic) -> None:
        self.engine, self.run_id = engine, int(run_id)
        self.clock = clock  # when epochs end and commits happen (a test may pass its own)
        self.checkpoint_budget = None if checkpoint_budget_mb is None else int(checkpoint_budget_mb * MB)
        self.checkpoint_share = checkpoint_share  # None: kept checkpoints limited by bytes only
        # training time before the first checkpoint of a run from scratch (None: CHECKPOINT_AFTER_S)
        self.checkpoint_after_s = CHECKPOINT_AFTER_S if checkpoint_after_s is None else checkpoint_after_s
        self.checkpoint_seconds = 0.0  # time spent encoding checkpoints...
        self.checkpoints_taken = 0     # ...this many
        self.checkpoint_bytes = 0      # bytes of checkpoints written
        self._trainer = None
        self._trained_s = 0.0           # training time of this process's epochs so far
        self._since_checkpoint_s = 0.0  # ...since its last checkpoint
        self._encode_s = self._write_s = 0.0  # what the last checkpoint cost to encode, and to commit
        self._first: int | None = None  # the epoch of the first checkpoint
        self._stride: int | None = None  # see checkpoint_stride; None until the first checkpoint's size is known
        self._kept: list[tuple[int, int, bytes]] = []  # kept checkpoints not yet written
        self._latest: tuple[int, int, bytes] | None = None  # the latest epoch's, not yet written
        self._replaceable: int | None = None  # the written latest checkpoint's epoch, when it is not a kept one
        self.commit_every_s, self.heartbeat_every_s = commit_every_s, heartbeat_every_s
        self.cancelled = False
        self.committed = 0      # the last epoch committed
        self.commits = 0        # transactions that wrote epochs
        self._pending: list[tuple[int, dict]] = []
        self._history: dict[str, list] = {k: [] for k in EVENT_KEYS}  # for the run's events, at its end
        self._epochs = 0
        self._last_commit = 0.0
        self._last_epoch_end = 0.0

    # --- callback protocol ---
    def on_train_start(self, context: dict) -> None:
        """Start beating for the run (the run's row already holds its model size and planned epochs)."""
        self._epochs = int(context.get("epochs") or 0)
        self._last_commit = self._last_epoch_end = self.clock()
        if context.get("start_epoch"):  # a resume or fork: its events read the epochs before it too
            known = get_metric_history(self.engine, self.run_id, EVENT_KEYS)
            self._history = {k: [p for p in known.get(k, []) if p[0] <= context["start_epoch"]] for k in EVENT_KEYS}
        if self.checkpoint_budget is not None:
            self._trainer = context.get("trainer")
            if context.get("start_epoch"):  # its earlier epochs have checkpoints (its own or its parent's)
                self.checkpoint_after_s = 0.0
        self.start_heartbeat()

    def on_epoch_end(self, record: EpochRecord) -> bool:
        """Gather the epoch; commit when due (see the module docstring). True (stop) once Cancel was seen."""
        now, cancelled = self.clock(), self.cancelled
        epoch_s = now - self._last_epoch_end  # training and evaluation, without this recorder's own work
        self._pending.append((record.epoch, dict(record.metrics)))
        for key in EVENT_KEYS:
            if key in record.metrics:
                self._history[key].append((record.epoch, record.metrics[key]))
        due = self.committed == 0 or now + epoch_s - self._last_commit >= self.commit_every_s
        self._trained_s += epoch_s
        self._since_checkpoint_s += epoch_s
        if self._trainer is not None and self._trained_s >= self.checkpoint_after_s:
            keep = self._may_keep(record.epoch)
            latest = cancelled or record.epoch >= self._epochs or (due and self._latest_paid_for())
            if keep or latest:
                self._take_checkpoint(record.epoch, keep, epoch_s)
        if due:
            self.flush()
        self._last_epoch_end = self.clock()
        return cancelled or self.cancelled

    def on_train_end(self, summary: TrainSummary) -> None:
        """Stop the heartbeat; what is left is committed by `finish`, with the run's final status."""
        self.stop_heartbeat()

    def finish(self, status: str, *, error: str | None = None, metrics: dict | None = None, step: int = 0) -> str:
        """End the run: the gathered epochs, `metrics` at `step` (the test set's), the run's events
        (divergence, plateaus, overfitting: storage.events) and the final status in one transaction;
        returns the status the run now has (a 'completed' run cancelled late says so)."""
        self.stop_heartbeat()
        epochs = self._pending + ([(step, metrics)] if metrics else [])
        events = detect_events(self._history, self._epochs)
        checkpoints, drop = self._checkpoint_batch()
        status = finish_run(self.engine, self.run_id, status, error=error, epochs=epochs, events=events,
                            checkpoints=checkpoints, drop_checkpoints=drop)
        self._pending = []
        self._checkpoints_written(checkpoints)
        return status

    def flush(self) -> None:
        """Commit the gathered epochs (and their checkpoints) in one transaction; pick up a Cancel request."""
        if not self._pending:
            return
        checkpoints, drop = self._checkpoint_batch()
        t0 = time.perf_counter()
        if log_epochs_with_checkpoints(self.engine, self.run_id, self._pending, checkpoints, drop):
            self.cancelled = True
        if checkpoints:  # what writing one cost (the epochs' own share of the commit is small)
            self._write_s = (time.perf_counter() - t0) / len(checkpoints)
        self._checkpoints_written(checkpoints)
        self.committed = self._pending[-1][0]
        self.commits += 1
        self._pending = []
        self._last_commit = self.clock()

    # --- checkpoints ---
    def _may_keep(self, epoch: int) -> bool:
        """Whether `epoch`'s checkpoint is a kept one: the run's first (so a fork at any later epoch has one
        to start from), then every stride-th after it (see checkpoint_stride)."""
        if self._stride is None:
            return True  # the first; see _take_checkpoint
        return bool(self._stride) and (epoch - self._first) % self._stride == 0

    def _latest_paid_for(self) -> bool:
        """Whether the training since the last checkpoint pays for another (encoding and commit, as the last
        one cost) at the time share."""
        return (self.checkpoint_share is None
                or self._since_checkpoint_s * self.checkpoint_share >= self._encode_s + self._write_s)

    def _take_checkpoint(self, epoch: int, keep: bool, epoch_s: float) -> None:
        """Encode the training state after `epoch` (which took `epoch_s`): the latest, and a kept one if
        `keep`. The first one's size and encoding time set the spacing of the kept ones."""
        t0 = time.perf_counter()
        try:
            data = encode_checkpoint(self._trainer.training_state())
        except Exception:  # a checkpoint must never fail the run
            log.warning("checkpoint of run %s at epoch %s failed; no more checkpoints", self.run_id, epoch,
                        exc_info=True)
            self._trainer = None
            return
        encode_s = time.perf_counter() - t0
        self._encode_s, self._since_checkpoint_s = encode_s, 0.0
        self.checkpoint_seconds += encode_s
        self.checkpoints_taken += 1
        if self._stride is None:
            self._first = epoch
            self._stride = checkpoint_stride(self.checkpoint_budget, len(data), max(self._epochs - epoch + 1, 1),
                                             encode_s=encode_s, epoch_s=epoch_s, share=self.checkpoint_share)
            keep = self._stride > 0
        self._latest = (epoch, VERSION, data)
        if keep:
            self._kept.append(self._latest)

    def _checkpoint_batch(self) -> tuple[list[tuple[int, int, bytes]], list[int]]:
        """The checkpoints to write with the next commit, and the epoch of the one they replace."""
        if self._latest is None:
            return [], []
        latest_kept = bool(self._kept) and self._kept[-1] is self._latest
        batch = self._kept if latest_kept else [*self._kept, self._latest]
        return batch, [self._replaceable] if self._replaceable is not None else []

    def _checkpoints_written(self, batch: list[tuple[int, int, bytes]]) -> None:
        """After a commit with `batch`: the latest written is replaced by the next, unless it is a kept one."""
        if not batch:
            return
        self._replaceable = None if self._kept and self._kept[-1] is self._latest else self._latest[0]
        self.checkpoint_bytes += sum(len(d) for _, _, d in batch)
        self._kept, self._latest = [], None

    def should_stop(self) -> bool:
        """For Trainer.fit(interrupt=...): whether Cancel was seen (by a commit or the heartbeat)."""
        return self.cancelled

    # --- heartbeat thread ---
    def beat(self) -> bool:
        """One heartbeat: record liveness and pick up a Cancel request. False once the run has ended (so the
        heartbeat thread drops the run even if training raised and on_train_end never came). Errors are logged."""
        try:
            running, cancel = heartbeat(self.engine, self.run_id)
            self.cancelled = self.cancelled or cancel
            return running
        except Exception:  # a missed beat must never kill training
            log.warning("heartbeat for run %s failed", self.run_id, exc_info=True)
            return True

    def start_heartbeat(self) -> None:
        """Beat for this run from the process's heartbeat thread, every heartbeat_every_s (idempotent)."""
        HEARTBEATS.add(self)

    def stop_heartbeat(self) -> None:
        """Stop beating for this run (a beat under way finishes first)."""
        HEARTBEATS.remove(self)


class Heartbeats:
    """The process's heartbeat thread: calls `beat()` of each registered recorder every its
    heartbeat_every_s, and drops a recorder whose beat says its run has ended. Started at the first
    `add`, a daemon: it ends with the process."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # a forked child trains none of its parent's runs

    def _reset(self) -> None:
        self._due: dict[RunRecorder, float] = {}
        self._beating: RunRecorder | None = None
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    def add(self, recorder: RunRecorder) -> None:
        with self._cond:
            if recorder not in self._due:
                self._due[recorder] = time.monotonic() + recorder.heartbeat_every_s
                self._cond.notify()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="nnlab-heartbeat", daemon=True)
                self._thread.start()

    def remove(self, recorder: RunRecorder) -> None:
        """Unregister `recorder`; returns once no beat of it is under way."""
        with self._cond:
            self._due.pop(recorder, None)
            while self._beating is recorder:
                self._cond.wait()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._beating = None
                self._cond.notify_all()
                while True:
                    now = time.monotonic()
                    due = min(self._due.items(), key=lambda kv: kv[1], default=None)
                    if due is not None and due[1] <= now:
                        break
                    self._cond.wait(None if due is None else due[1] - now)
                recorder = self._beating = due[0]
                self._due[recorder] = now + recorder.heartbeat_every_s
            if not recorder.beat():
                with self._cond:
                    self._due.pop(recorder, None)


HEARTBEATS = Heartbeats()
