"""DBRecorder: the training callback that writes a run's epochs to the store.

Each epoch is one transaction (metrics, summary, heartbeat) that also reads back the Cancel flag
(storage/epoch_log.py). Given a WriterProcess (storage/writer_process.py), as run_experiment gives
it, that transaction runs in the writer process while the next epoch trains, and a Cancel it reads
back stops training at the next check (an epoch end, or within a second mid-epoch); without one, the
epoch waits for its commit. A daemon thread also beats the heart every few seconds, so a long epoch
never looks like a crash; it dies with the process, so a killed trainer stops beating and is later
marked crashed by mark_crashed_runs.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from engine.train import EpochRecord, TrainSummary

from .epoch_log import EpochWriter
from .writer_process import WriterProcess
from .writes import heartbeat, is_cancel_requested, set_run_fields

log = logging.getLogger(__name__)
HEARTBEAT_EVERY_S = 5.0


class DBRecorder:
    """Engine callback: logs every epoch of `run_id`, beats the heart, and stops training on Cancel."""

    def __init__(self, engine: Engine, run_id: int, *, heartbeat_every_s: float = HEARTBEAT_EVERY_S,
                 writer: WriterProcess | None = None) -> None:
        self.engine, self.run_id, self.heartbeat_every_s = engine, run_id, heartbeat_every_s
        self.writer = writer
        self.cancelled = False
        self._committed = 0
        self._epochs = EpochWriter(engine, run_id)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- callback protocol ---
    def on_train_start(self, context: dict) -> None:
        """Record the model size and planned epochs, then start the heartbeat thread."""
        fields = {}
        if context.get("num_params") is not None:
            fields["num_params"] = int(context["num_params"])
        if context.get("epochs"):
            fields["epochs_planned"] = int(context["epochs"])
        set_run_fields(self.engine, self.run_id, **fields)
        self.start_heartbeat()

    def on_epoch_end(self, record: EpochRecord) -> bool:
        """Log the epoch's metrics in one transaction (now, or queued on the background writer);
        True (stop) once Cancel was requested."""
        if self.writer is None:
            if self._epochs.write(record.epoch, record.metrics):
                self.cancelled = True
            self._committed = record.epoch
        else:  # sent with the epoch's model state, or at the trainer's stop check (should_stop) right after
            self.writer.write_epoch(record.epoch, record.metrics)
        return self.cancelled

    @property
    def committed(self) -> int:
        """The last epoch whose transaction has committed (as far as the trainer knows yet)."""
        return self.writer.committed if self.writer is not None else self._committed

    def on_train_end(self, summary: TrainSummary) -> None:
        """Wait for the queued epochs, then stop the heartbeat thread. Finishing the run (status) is
        the runner's job."""
        try:
            if self.writer is not None:
                self.writer.flush()
        finally:
            self.stop_heartbeat()

    # --- for Trainer.fit(interrupt=...): Cancel noticed within a heartbeat, even mid-epoch ---
    def should_stop(self) -> bool:
        """Whether Cancel was seen (by an epoch's write or by the heartbeat thread)."""
        if self.writer is not None and not self.cancelled:
            self.writer.poll()
            self.cancelled = self.writer.cancelled
        return self.cancelled

    # --- heartbeat thread ---
    def beat(self) -> bool:
        """One heartbeat: record liveness and pick up a Cancel request. False once the run has ended
        (so the thread stops even if training raised and on_train_end never came). Errors are logged."""
        try:
            running = heartbeat(self.engine, self.run_id)
            if is_cancel_requested(self.engine, self.run_id):
                self.cancelled = True
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

    def __enter__(self) -> DBRecorder:
        return self

    def __exit__(self, *exc) -> None:
        self.stop_heartbeat()

    @property
    def heartbeat_alive(self) -> bool:
        """Whether the heartbeat thread is running."""
        return self._thread is not None and self._thread.is_alive()
