"""A run's snapshots, taken in its writer process from the model states the trainer sends.

Two ends of one idea:
- SnapshotSender, a training callback: after each epoch it copies the model's arrays (parameters and
  buffers: 3 numbers for a perceptron, 82,000 for ResNet-20) and sends them, with the epoch's time,
  to the run's writer process (storage/writer_process.py). That is all the training loop pays.
- SnapshotReplay, in the writer process: it rebuilds the run's experiment from its spec (the same
  seed gives the same data, probe batch and architecture), loads each state it receives into that
  model and hands the epoch to an ordinary SnapshotRecorder, which plans, computes, budgets and
  writes the views exactly as it would inside the trainer. Every view is a function of the weights,
  the buffers and the data (gradients are the probe batch's, in evaluation mode), so they are the
  same views, computed on another core. The time cap still applies, to the writer's time against
  the run's epochs as the trainer measured them.
"""

from __future__ import annotations

import math
import time

from engine.experiment import prepare
from engine.models.io import load_state_arrays, state_arrays
from engine.spec import parse_spec
from engine.train import EpochRecord, TrainSummary

from .snapshot_recorder import SnapshotRecorder


class SnapshotSender:
    """Training callback: the model's state after every epoch, sent to the run's writer process."""

    def __init__(self, writer, spec: dict, budget_mb: float) -> None:
        self.writer, self.spec, self.budget_mb = writer, spec, budget_mb
        self._model = None
        self._mark = time.perf_counter()

    def on_train_start(self, context: dict) -> None:
        self._model = context["model"]
        self.writer.start_snapshots(self.spec, self.budget_mb, int(context.get("epochs") or 0),
                                    state_arrays(self._model))
        self._mark = time.perf_counter()

    def on_epoch_end(self, record: EpochRecord) -> None:
        now = time.perf_counter()
        self.writer.send_state(record.epoch, now - self._mark, state_arrays(self._model))
        self._mark = time.perf_counter()  # our own time is not the run's

    def on_train_end(self, summary: TrainSummary) -> None:
        self.writer.end_snapshots(summary, state_arrays(self._model))


class SnapshotReplay:
    """The writer process's end: a SnapshotRecorder driven by received states."""

    def __init__(self, engine, run_id: int, spec: dict, budget_mb: float, epochs: int, state: dict) -> None:
        self.engine, self.run_id = engine, run_id
        self.exp = prepare(parse_spec(spec))
        load_state_arrays(self.exp.model, state)  # the trainer's untrained model, exactly
        self.recorder = SnapshotRecorder(engine, run_id, budget_mb=budget_mb)
        self.recorder.on_train_start({"model": self.exp.model, "trainer": self.exp.trainer, "data": self.exp.data,
                                      "epochs": epochs})

    def epoch(self, epoch: int, run_seconds: float, state: dict) -> None:
        load_state_arrays(self.exp.model, state)
        self.recorder.on_epoch_end(EpochRecord(epoch, math.nan, math.nan, {}, math.nan, run_seconds),
                                   run_seconds=run_seconds)  # the recorder reads the epoch number only

    def end(self, summary: TrainSummary, state: dict) -> None:
        load_state_arrays(self.exp.model, state)  # early stopping may have restored earlier weights
        self.recorder.on_train_end(summary)

