"""`run_experiment`: the single path from a spec to a recorded run (CLI, dashboard workers, Celery).

One run trains in one process: the recorder (jobs/recorder.py) and the snapshot recorder
(jobs/snapshot_recorder.py) are training callbacks that write to the store from the training
process itself, in batches.
"""

from __future__ import annotations

import logging
import os
import socket
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import engine
from engine.data import Dataset
from engine.experiment import prepare, run_training
from engine.spec import ExperimentSpec, parse_spec
from engine.train import EpochRecord, TrainSummary
from storage import writes
from storage.db import open_db

from .recorder import RunRecorder
from .resume import StartPoint, start_point
from .snapshot_recorder import SnapshotRecorder
from .threads import blas_threads, limit_threads

log = logging.getLogger(__name__)
ProgressFn = Callable[[EpochRecord, int], None]


@dataclass
class RunResult:
    """What a finished (or stopped) run reports back to its caller."""

    run_id: int
    status: str
    final: dict[str, float]
    num_params: int
    outcome: str
    error: str | None = None
    diverged: bool = False
    recorded: bool = True  # False: the final status could not be written (the store was unwritable)


def create_queued_run(spec: ExperimentSpec | dict, db_url: str, *, status: str = "queued", **where) -> int:
    """Validate `spec` and record a run row for it; nothing is written if validation fails.
    `where`: the pid and host of the process that trains it, for a run created 'running'."""
    return _create_run(parse_spec(spec), open_db(db_url), status, **where)


def _create_run(spec: ExperimentSpec, db, status: str, **where) -> int:
    return writes.create_runs(db, [run_row(spec, status=status, **where)])[0]


def run_row(spec: ExperimentSpec, *, status: str = "queued", **where) -> dict:
    """What storage.writes.create_runs records for a validated spec."""
    return dict(spec=spec.to_dict(), params=spec.params(), status=status, name=spec.name,
                experiment=spec.experiment or None, tags=spec.tags, seed=spec.seed, model=spec.model,
                dataset=spec.dataset, epochs_planned=spec.epochs, engine_version=engine.__version__, **where)


class _Progress:
    """Engine callback relaying each epoch to the caller's progress function."""

    def __init__(self, fn: ProgressFn, epochs: int) -> None:
        self.fn, self.epochs = fn, epochs

    def on_train_start(self, context: dict[str, Any]) -> None:
        pass

    def on_epoch_end(self, record: EpochRecord) -> None:
        self.fn(record, self.epochs)

    def on_train_end(self, summary: TrainSummary) -> None:
        pass


def run_experiment(spec: ExperimentSpec | dict, db_url: str, *, on_progress: ProgressFn | None = None,
                   should_stop: Callable[[], bool] | None = None, run_id: int | None = None,
                   data: Dataset | None = None) -> RunResult:
    """Train `spec` and record every epoch in `db_url`; returns how the run ended.

    With `run_id`, the run row already exists (queued, or claimed by a worker), and training starts
    where jobs/resume.py says (its own latest checkpoint, its parent's at the fork epoch, or scratch);
    otherwise it is created here. `data`, when given, is the spec's data set already loaded (a warm worker's cache).
    A bad spec raises SpecError before any row is written. An exception inside training (a database
    error included) marks the run failed with its traceback; a cancel request marks it cancelled.
    """
    spec = parse_spec(spec)
    db = open_db(db_url)
    queued = run_id is not None  # queued runs may resume or fork (jobs/resume.py)
    exp, error = None, None
    try:
        exp = prepare(spec, data=data)
    except Exception:
        error = traceback.format_exc()
    num_params = exp.num_params if exp is not None else 0
    if run_id is None:  # trained here and now: created running, as start_run would mark it (no worker may claim it)
        run_id = _create_run(spec, db, "running", pid=os.getpid(), host=socket.gethostname(),
                             num_params=exp.num_params if exp is not None else None, threads=blas_threads())
    recorder = RunRecorder(db, run_id, checkpoint_budget_mb=spec.checkpoint_budget_mb)
    callbacks: list = [recorder]
    if spec.snapshots:
        callbacks.append(SnapshotRecorder(db, run_id, budget_mb=spec.snapshot_budget_mb))
    if on_progress is not None:
        callbacks.append(_Progress(on_progress, spec.epochs))
    if error is None:
        try:
            start = start_point(db, run_id, spec, exp.data) if queued else StartPoint()
            with limit_threads(start.threads):  # a resumed or forked run's recorded count
                if queued:
                    writes.start_run(db, run_id, pid=os.getpid(), host=socket.gethostname(), num_params=num_params,
                                     threads=blas_threads())
                interrupt = (lambda: recorder.should_stop() or bool(should_stop and should_stop()))
                summary = run_training(exp, callbacks, interrupt=interrupt, start=start.state, fork=start.fork)
        except Exception:
            error = traceback.format_exc()
    if error is not None:
        recorded = record_failure(db, run_id, error, recorder)
        return RunResult(run_id, "failed", {}, num_params, "failed", error, recorded=recorded)
    status = "cancelled" if summary.outcome == "stopped" and (recorder.cancelled or summary.stopped_by == "interrupt") \
        else "completed"
    test = {k: v for k, v in summary.final.items() if k.startswith("test_")}
    status = recorder.finish(status, metrics=test, step=summary.epochs_run)
    return RunResult(run_id, status, summary.final, num_params, summary.outcome,
                     diverged=summary.outcome == "diverged")


def record_failure(db, run_id: int, error: str, recorder: RunRecorder | None = None) -> bool:
    """Mark the run failed with `error`: with the epochs the recorder still holds if that can be written,
    else the status alone (a full disk may still take a one-row update). False when neither could be
    written (the store is gone or full): the caller may try again later, and if nobody does, the crash
    mark comes once the process has died, with the cause logged on its stderr."""
    if recorder is not None:
        try:
            recorder.finish("failed", error=error)
            return True
        except Exception:
            log.warning("run %s: its last epochs could not be written", run_id, exc_info=True)
    try:
        writes.finish_run(db, run_id, "failed", error=error)
        return True
    except Exception:
        log.error("run %s failed and the store cannot be written; the cause:\n%s", run_id, error)
        return False

