"""Resume and fork, checked and queued: what `nnlab resume`/`nnlab fork` and the Run page's buttons do
before the warm workers take over (jobs/resume.py says where training then starts).

Every check comes first and raises `Refused` with one line saying why; only then is the store
changed, in one transaction (storage.lineage).
"""

from __future__ import annotations

import socket

from engine.spec import SpecError

STALE_S = 30.0  # a heartbeat younger than this is fresh (the trainer beats every 5 s)
# What a fork may change: how the model is trained on, not what it is or what it learns from.
FORKABLE = ("optimizer", "lr", "momentum", "schedule", "step_size", "gamma", "warmup_epochs", "dropout",
            "weight_decay", "l2", "clip", "batch_size", "epochs", "early_stopping", "seed", "name", "snapshots",
            "snapshot_budget_mb", "checkpoint_budget_mb")
ANNEALING = ("cosine", "warmup")  # schedules that depend on the planned number of epochs


class Refused(Exception):
    """Why a resume or fork cannot be done (one line)."""


def _may_be_alive(run) -> bool:
    """A running run's trainer may still be alive: on this host its process exists; elsewhere its
    heartbeat is fresh."""
    from storage.models import utcnow
    from storage.writes import pid_alive

    if run.host in ("", socket.gethostname()):
        return pid_alive(run.pid)
    seen = run.heartbeat_at or run.started_at or run.created_at
    return (utcnow() - seen).total_seconds() < STALE_S


def _readable_checkpoint(db, run, at_or_before: int | None = None, *, replayable: bool):
    """The run's latest checkpoint (at or before an epoch), checked to decode; None when it has none but
    its training can be replayed from its start (`replayable`); Refused otherwise."""
    from engine.checkpoint import CheckpointError, decode_checkpoint
    from storage.checkpoints import read_checkpoint

    run_id = run.id
    found = read_checkpoint(db, run_id, at_or_before=at_or_before)
    where = "" if at_or_before is None else f" at or before epoch {at_or_before}"
    if found is None:
        if replayable:
            return None
        raise Refused(f"run {run_id} has no checkpoint{where} and cannot be replayed from its start (it never "
                      f"started training, or was trained before checkpoints existed): train it again instead")
    try:
        decode_checkpoint(found.data)
    except CheckpointError as e:
        raise Refused(f"run {run_id}'s checkpoint at epoch {found.epoch} cannot be read: {e}") from None
    return found


def other_engine(run) -> str | None:
    """The engine version that trained `run` when it is not this one (a resume or fork then needs force)."""
    import engine

    return run.engine_version if run.engine_version and run.engine_version != engine.__version__ else None


def _check_engine(run, force: bool) -> None:
    import engine

    if other_engine(run) and not force:
        raise Refused(f"run {run.id} was trained by engine {run.engine_version}, this is {engine.__version__}: "
                      f"its later epochs could differ from an uninterrupted run; --force goes on anyway (the run "
                      f"then mixes two engine versions and is no longer exactly reproducible)")


def prepare_resume(db, run_id: int, *, epochs: int | None = None, force: bool = False) -> int:
    """Check that `run_id` can be resumed and put it back in the queue; returns the epoch it goes on from
    (its checkpoint's; 0, or a fork's fork epoch, when it has none and starts over)."""
    from engine.spec import parse_spec
    from storage import reads
    from storage.lineage import RunChanged, mark_run_crashed, requeue_run

    run = reads.get_run(db, run_id)
    if run is None:
        raise Refused(f"no run {run_id}")
    status = run.status
    if status == "running":
        if _may_be_alive(run):
            raise Refused(f"run {run_id} may still be training (pid {run.pid} on {run.host or '?'}): cancel it "
                          f"(nnlab cancel {run_id}) and resume it once it has stopped")
        mark_run_crashed(db, run_id, f"The training process (pid {run.pid} on {run.host or '?'}) is gone.")
        status = "crashed"
    if status == "queued":
        raise Refused(f"run {run_id} is queued: it has not started, so there is nothing to resume")
    if status == "completed" and epochs is None:
        raise Refused(f"run {run_id} is completed; extend it with --epochs N (more than its {run.epochs_planned}), "
                      f"or fork it")
    found = _readable_checkpoint(db, run, replayable=run.threads is not None)
    start = found.epoch if found else run.fork_epoch or 0  # no checkpoint: it starts over (jobs/resume.py)
    _check_engine(run, force)
    spec = parse_spec(run.spec)
    new_spec = planned = None
    if epochs is not None and epochs != spec.epochs:
        if spec.schedule in ANNEALING:
            raise Refused(f"schedule: run {run_id}'s {spec.schedule} schedule ends at its {spec.epochs} planned "
                          f"epochs, so it cannot be extended exactly; fork it with a new schedule instead "
                          f"(nnlab fork {run_id} --at {max(start, 1)} --set epochs={epochs} --set schedule=...)")
        if epochs <= start:
            raise Refused(f"epochs: --epochs must be more than the {start} epochs of its checkpoint")
        try:
            new_spec = parse_spec({**spec.to_dict(), "epochs": epochs}).to_dict()
        except SpecError as e:
            raise Refused(str(e)) from None
        planned = epochs
    try:
        requeue_run(db, run_id, from_epoch=start, expect_status=status, spec=new_spec, epochs_planned=planned)
    except RunChanged as e:
        raise Refused(f"{e}; try again") from None
    return start


def resumes_from(run_id: int, epoch: int) -> str:
    """What a resume queued by prepare_resume does, in words."""
    if epoch:
        return f"Run #{run_id} resumes from its checkpoint at epoch {epoch}."
    return (f"Run #{run_id} starts over: it has no checkpoint (a run takes its first after a quarter second "
            f"of training), and trains again from its start to the same epochs.")


def fork_changes(pairs: list[str]) -> dict[str, str]:
    """{name: value} from NAME=VALUE texts; Refused for a malformed one or a knob a fork may not change."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise Refused(f"--set {pair!r} should look like NAME=VALUE, e.g. --set lr=0.0001")
        name, value = pair.split("=", 1)
        name = name.strip().replace("-", "_")
        if name not in FORKABLE:
            raise Refused(f"{name}: a fork keeps its parent's model and data; it may change only "
                          f"{', '.join(FORKABLE)}")
        out[name] = value.strip()
    return out


def prepare_fork(db, parent_id: int, at: int, changes: dict[str, str], *, force: bool = False,
                 notes=None) -> int:
    """Check that `parent_id` can be forked at epoch `at` with `changes` and queue the fork; returns its id.
    `notes`: a list that gets what the user should know (a schedule that now anneals differently)."""
    import engine
    from engine.spec import parse_spec
    from storage import reads
    from storage.lineage import create_fork

    parent = reads.get_run(db, parent_id)
    if parent is None:
        raise Refused(f"no run {parent_id}")
    if not 1 <= at <= parent.epochs_done:
        raise Refused(f"the fork epoch (--at) must be one run {parent_id} has finished: 1 to {parent.epochs_done}")
    if parent.fork_epoch and at <= parent.fork_epoch:
        raise Refused(f"epoch {at} of run {parent_id} is inherited from run {parent.parent_run_id}: "
                      f"fork run {parent.parent_run_id} at {at} instead")
    base = {**parent.spec, "name": ""}
    try:
        spec = parse_spec({**base, **changes})
    except SpecError as e:
        raise Refused(str(e)) from None
    if spec.epochs <= at:
        raise Refused(f"epochs: the fork must train past epoch {at}: set epochs to more than {at}")
    from .resume import replays_from_start

    _readable_checkpoint(db, parent, at_or_before=at, replayable=replays_from_start(parent))
    _check_engine(parent, force)
    if spec.schedule in ANNEALING and spec.epochs != parse_spec(parent.spec).epochs and notes is not None:
        notes.append(f"the {spec.schedule} schedule now anneals over {spec.epochs} epochs: the learning rate "
                     f"from epoch {at + 1} differs from the parent's")
    name = spec.name or f"{parent.name or f'run {parent_id}'} fork@{at}"
    values = {**spec.to_dict(), "name": name}
    return create_fork(db, parent_id, at, values, spec.params(), name=name, model=spec.model,
                       dataset=spec.dataset, seed=spec.seed, engine_version=engine.__version__)
