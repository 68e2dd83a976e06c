"""Where a claimed run starts training: from scratch, from its own latest checkpoint (a resume), or from
its parent's state at the fork epoch (a fork).

A fork whose parent has no checkpoint at the fork epoch starts from the parent's nearest earlier
one, or from the parent's start if it has none that early (a run trained from scratch takes its first
checkpoint only after a quarter second of training: jobs/recorder.py), and replays the parent's own
settings up to the fork epoch first, so the state it forks from is exactly the parent's at that epoch.
A resumed run without a checkpoint starts over. Resume, fork and the replay train with the run's
recorded BLAS threads (a fork records its parent's), because a different thread count may round
differently.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.checkpoint import decode_checkpoint
from engine.data import Dataset
from engine.experiment import prepare, run_training
from engine.spec import ExperimentSpec, parse_spec
from engine.state import TrainingState
from storage import reads
from storage.checkpoints import read_checkpoint

from .threads import limit_threads


@dataclass
class StartPoint:
    """What `run_training` starts from (`state` None: from scratch), and with how many BLAS threads."""

    state: TrainingState | None = None
    fork: bool = False
    threads: int | None = None


class _StateAt:
    """Callback: takes the training state at the end of `epoch` and stops training there."""

    def __init__(self, epoch: int) -> None:
        self.epoch, self.trainer, self.state = epoch, None, None

    def on_train_start(self, context: dict) -> None:
        self.trainer = context["trainer"]

    def on_epoch_end(self, record) -> bool:
        if record.epoch >= self.epoch:
            self.state = self.trainer.training_state()
            return True
        return False

    def on_train_end(self, summary) -> None:
        pass


def replay(spec: ExperimentSpec, state: TrainingState | None, epoch: int, data: Dataset | None = None) -> TrainingState:
    """The state of a run of `spec` at the end of `epoch`, trained on from `state` (an earlier one of it;
    None: from the start)."""
    if state is not None and state.epoch == epoch:
        return state
    grab = _StateAt(epoch)
    run_training(prepare(spec, data=data), [grab], start=state)
    if grab.state is None:
        raise RuntimeError(f"replaying the parent from epoch {state.epoch if state else 0} did not reach epoch {epoch}")
    return grab.state


def start_point(db, run_id: int, spec: ExperimentSpec, data: Dataset | None = None) -> StartPoint:
    """Where run `run_id` (of `spec`) starts; raises CheckpointError for a checkpoint that cannot be read."""
    run = reads.get_run(db, run_id)
    own = read_checkpoint(db, run_id)
    if own is not None:
        return StartPoint(decode_checkpoint(own.data), False, run.threads)
    if run.parent_run_id is None or not run.fork_epoch:
        return StartPoint(threads=run.threads)
    parent = reads.get_run(db, run.parent_run_id)
    found = read_checkpoint(db, run.parent_run_id, at_or_before=run.fork_epoch)
    if parent is None or (found is None and not replays_from_start(parent)):
        raise RuntimeError(f"the parent run {run.parent_run_id} has no checkpoint at or before epoch "
                           f"{run.fork_epoch} any more")
    with limit_threads(run.threads):
        state = replay(parse_spec(parent.spec), decode_checkpoint(found.data) if found else None, run.fork_epoch, data)
    if spec.seed != parse_spec(parent.spec).seed:  # a seed fork draws from its own seed from here on
        state = state.without_generators()
    return StartPoint(state, True, run.threads)


def replays_from_start(run) -> bool:
    """Whether `run`'s epochs can be replayed from its start, bit for bit: it was trained from scratch (no
    fork) with a recorded BLAS thread count (it started training under the job path)."""
    return run.threads is not None and run.parent_run_id is None
