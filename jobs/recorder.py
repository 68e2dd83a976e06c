"""RunRecorder: the training callback that writes a run's epochs to the store, in batches.

Commits: the first epoch as soon as it ends (a new run shows life at once); after that, whenever
the epochs gathered since the last commit would otherwise be more than COMMIT_EVERY_S old by the
next epoch's end; and at the end, in the transaction that gives the run its final status (`finish`).
So a run of 4 ms epochs pays one transaction per quarter second, not one per epoch, and a SIGKILL
loses at most the last quarter second of epochs.

Cancel: every commit reads back the run's Cancel flag (storage.epoch_log), and a heartbeat thread
does the same every HEARTBEAT_EVERY_S while the run trains, so a long epoch neither looks like a
crash nor misses a Cancel. The heartbeat thread dies with the process, so a killed trainer stops
beating and is later marked crashed by storage.writes.mark_crashed_runs.
"""

from __future__ import annotations

import logging
import threading
import time

from engine.train import EpochRecord, TrainSummary
from storage.epoch_log import log_epochs
from storage.events import detect_events
from storage.writes import finish_run, heartbeat

log = logging.getLogger(__name__)
COMMIT_EVERY_S = 0.25
HEARTBEAT_EVERY_S = 5.0
EVENT_KEYS = ("train_loss", "val_loss", "val_accuracy")  # what storage.events.detect_events reads


class RunRecorder:
    """Engine callback: records `run_id`'s epochs in batches, beats its heart, and stops it on Cancel."""

    def __init__(self, engine, run_id: int, *, commit_every_s: float = COMMIT_EVERY_S,
                 heartbeat_every_s: float = HEARTBEAT_EVERY_S) -> None:
        self.engine, self.run_id = engine, int(run_id)
        self.commit_every_s, self.heartbeat_every_s = commit_every_s, heartbeat_every_s
        self.cancelled = False
        self.committed = 0      # the last epoch committed
        self.commits = 0        # transactions that wrote epochs
        self._pending: list[tuple[int, dict]] = []
        self._history: dict[str, list] = {k: [] for k in EVENT_KEYS}  # for the run's events, at its end
        self._epochs = 0
        self._last_commit = 0.0
        self._last_epoch_end = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- callback protocol ---
    def on_train_start(self, context: dict) -> None:
        """Start the heartbeat thread (the run's row already holds its model size and planned epochs)."""
        self._epochs = int(context.get("epochs") or 0)
        self._last_commit = self._last_epoch_end = time.monotonic()
        self.start_heartbeat()

    def on_epoch_end(self, record: EpochRecord) -> bool:
        """Gather the epoch; commit when due (see the module docstring). True (stop) once Cancel was seen."""
        now = time.monotonic()
        epoch_s, self._last_epoch_end = now - self._last_epoch_end, now
        self._pending.append((record.epoch, dict(record.metrics)))
        for key in EVENT_KEYS:
            if key in record.metrics:
                self._history[key].append((record.epoch, record.metrics[key]))
        if self.committed == 0 or now + epoch_s - self._last_commit >= self.commit_every_s:
            self.flush()
        return self.cancelled

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
        status = finish_run(self.engine, self.run_id, status, error=error, epochs=epochs, events=events)
        self._pending = []
        return status

    def flush(self) -> None:
        """Commit the gathered epochs in one transaction (and pick up a Cancel request)."""
        if not self._pending:
            return
        if log_epochs(self.engine, self.run_id, self._pending):
            self.cancelled = True
        self.committed = self._pending[-1][0]
        self.commits += 1
        self._pending = []
        self._last_commit = time.monotonic()

    def should_stop(self) -> bool:
        """For Trainer.fit(interrupt=...): whether Cancel was seen (by a commit or the heartbeat)."""
        return self.cancelled

    # --- heartbeat thread ---
    def beat(self) -> bool:
        """One heartbeat: record liveness and pick up a Cancel request. False once the run has ended
        (so the thread stops even if training raised and on_train_end never came). Errors are logged."""
        try:
            running, cancel = heartbeat(self.engine, self.run_id)
            self.cancelled = self.cancelled or cancel
            return running
        except Exception:  # a missed beat must never kill training
            log.warning("heartbeat for run %s failed", self.run_id, exc_info=True)
            return True

    def _loop(self) -> None:
        while not self._stop.wait(self.heartbeat_every_s):
            if not self.beat():
                return

    def start_heartbeat(self) -> None:
        """Start the daemon heartbeat thread (idempotent)."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name=f"nnlab-heartbeat-{self.run_id}", daemon=True)
            self._thread.start()

    def stop_heartbeat(self) -> None:
        """Stop and join the heartbeat thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.heartbeat_every_s + 30)
            self._thread = None
