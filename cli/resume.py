"""`nnlab resume` and `nnlab fork`: go on from a run's checkpoint, or branch off it with knobs changed.

Both take the job path of `nnlab sweep`: the run is put in the queue (resume: the same row; fork: a new
row holding its parent's history up to the fork epoch), the warm workers train it from the checkpoint
(jobs/resume.py), and this command waits for it and prints what `nnlab train` prints. Whatever cannot
be done is refused with exit 2 and one line, before anything is changed.
"""

from __future__ import annotations

import json
import socket
import sys

from engine.spec import SpecError

from .jobs import EXIT_INTERRUPTED, _refuse, _wait

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


def _readable_checkpoint(db, run_id: int, at_or_before: int | None = None):
    """The run's latest checkpoint (at or before an epoch), checked to decode; Refused otherwise."""
    from engine.checkpoint import CheckpointError, decode_checkpoint
    from storage.checkpoints import read_checkpoint

    found = read_checkpoint(db, run_id, at_or_before=at_or_before)
    where = "" if at_or_before is None else f" at or before epoch {at_or_before}"
    if found is None:
        raise Refused(f"run {run_id} has no checkpoint{where} (it stopped before its first epoch was committed, "
                      f"or was trained before checkpoints existed): train it again instead")
    try:
        decode_checkpoint(found.data)
    except CheckpointError as e:
        raise Refused(f"run {run_id}'s checkpoint at epoch {found.epoch} cannot be read: {e}") from None
    return found


def _check_engine(run, force: bool) -> None:
    import engine

    if run.engine_version and run.engine_version != engine.__version__ and not force:
        raise Refused(f"run {run.id} was trained by engine {run.engine_version}, this is {engine.__version__}: "
                      f"its later epochs could differ from an uninterrupted run; --force goes on anyway (the run "
                      f"then mixes two engine versions and is no longer exactly reproducible)")


def prepare_resume(db, run_id: int, *, epochs: int | None = None, force: bool = False) -> int:
    """Check that `run_id` can be resumed and put it back in the queue; returns the checkpoint's epoch."""
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
    found = _readable_checkpoint(db, run_id)
    _check_engine(run, force)
    spec = parse_spec(run.spec)
    new_spec = planned = None
    if epochs is not None and epochs != spec.epochs:
        if spec.schedule in ANNEALING:
            raise Refused(f"schedule: run {run_id}'s {spec.schedule} schedule ends at its {spec.epochs} planned "
                          f"epochs, so it cannot be extended exactly; fork it with a new schedule instead "
                          f"(nnlab fork {run_id} --at {found.epoch} --set epochs={epochs} --set schedule=...)")
        if epochs <= found.epoch:
            raise Refused(f"epochs: --epochs must be more than the {found.epoch} epochs of its checkpoint")
        try:
            new_spec = parse_spec({**spec.to_dict(), "epochs": epochs}).to_dict()
        except SpecError as e:
            raise Refused(str(e)) from None
        planned = epochs
    try:
        requeue_run(db, run_id, from_epoch=found.epoch, expect_status=status, spec=new_spec, epochs_planned=planned)
    except RunChanged as e:
        raise Refused(f"{e}; try again") from None
    return found.epoch


def _changes(pairs: list[str]) -> dict[str, str]:
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


def prepare_fork(db, parent_id: int, at: int, changes: dict[str, str], *, force: bool = False) -> int:
    """Check that `parent_id` can be forked at epoch `at` with `changes` and queue the fork; returns its id."""
    import engine
    from engine.spec import parse_spec
    from storage import reads
    from storage.lineage import create_fork

    parent = reads.get_run(db, parent_id)
    if parent is None:
        raise Refused(f"no run {parent_id}")
    if not 1 <= at <= parent.epochs_done:
        raise Refused(f"--at must be an epoch run {parent_id} has finished: 1 to {parent.epochs_done}")
    if parent.fork_epoch and at <= parent.fork_epoch:
        raise Refused(f"epoch {at} of run {parent_id} is inherited from run {parent.parent_run_id}: "
                      f"fork run {parent.parent_run_id} at {at} instead")
    base = {**parent.spec, "name": ""}
    try:
        spec = parse_spec({**base, **changes})
    except SpecError as e:
        raise Refused(str(e)) from None
    if spec.epochs <= at:
        raise Refused(f"epochs: the fork must train past epoch {at}; give --set epochs=N with N > {at}")
    _readable_checkpoint(db, parent_id, at_or_before=at)
    _check_engine(parent, force)
    if spec.schedule in ANNEALING and spec.epochs != parse_spec(parent.spec).epochs:
        print(f"note: the {spec.schedule} schedule now anneals over {spec.epochs} epochs: the learning rate "
              f"from epoch {at + 1} differs from the parent's", file=sys.stderr)
    name = spec.name or f"{parent.name or f'run {parent_id}'} fork@{at}"
    values = {**spec.to_dict(), "name": name}
    return create_fork(db, parent_id, at, values, spec.params(), name=name, model=spec.model,
                       dataset=spec.dataset, seed=spec.seed, engine_version=engine.__version__)


class EpochProgress:
    """`nnlab train`'s progress line for a run the workers train (its epochs read from the runs table)."""

    def __init__(self, db, run_id: int) -> None:
        from .progress import ProgressBar

        self.db, self.run_id, self.shown = db, run_id, -1
        self.bar = ProgressBar(0)

    def update(self, statuses: dict[int, str]) -> None:
        from types import SimpleNamespace

        from storage import reads

        run = reads.run_progress(self.db, run_ids=[self.run_id])[0]
        if run.epochs_done != self.shown and run.status != "queued":
            self.shown = run.epochs_done
            summary = reads.get_run(self.db, self.run_id).summary
            last = {k: s["last"] for k, s in summary.items() if s.get("last") is not None}
            self.bar.update(SimpleNamespace(epoch=run.epochs_done, metrics=last), run.epochs_planned)

    def close(self) -> None:
        self.bar.close()


def _run_and_report(db_url: str, run_id: int, args) -> int:
    """Start workers for the queued run, wait for it, print it as `nnlab train` does; the exit status."""
    from jobs.threads import default_max_running
    from jobs.worker import ensure_workers
    from storage import reads, writes
    from storage.db import open_db

    db = open_db(db_url)
    max_running = default_max_running()
    ensure_workers(db_url, max_running, wanted=1)
    bar = None if args.quiet else EpochProgress(db, run_id)
    try:
        _wait(db, db_url, [run_id], max_running, bar)
    except KeyboardInterrupt:
        writes.request_cancel(db, run_id)
        print(f"\nnnlab {args.command}: interrupted: run {run_id} stops at its next epoch", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if bar:
            bar.close()
    run = reads.get_run(db, run_id)
    if args.json:
        out = {"run_id": run.id, "status": run.status, "num_params": run.num_params,
               **{k: s.get("last") for k, s in sorted(run.summary.items())},
               "parent_run_id": run.parent_run_id, "fork_epoch": run.fork_epoch}
        if run.error:
            out["error"] = run.error.strip().splitlines()[-1]
        print(json.dumps(out, default=str))
    else:
        print(f"run {run.id} {run.status}")
        if run.error:
            print(run.error, file=sys.stderr)
    return 0 if run.status in ("completed", "cancelled") else 1


def cmd_resume(args) -> int:
    """Put a stopped run back in the queue from its latest checkpoint, train it to its planned epochs."""
    from storage.db import open_db, resolve_db_url

    db_url = resolve_db_url(args.db)
    try:
        epoch = prepare_resume(open_db(db_url), args.run, epochs=args.epochs, force=args.force)
    except Refused as e:
        return _refuse("resume", str(e))
    print(f"run {args.run}: resumes from its checkpoint at epoch {epoch}", file=sys.stderr)
    return _run_and_report(db_url, args.run, args)


def cmd_fork(args) -> int:
    """Queue a new run that starts from a run's state at epoch --at with the --set knobs changed."""
    from storage.db import open_db, resolve_db_url

    db_url = resolve_db_url(args.db)
    try:
        run_id = prepare_fork(open_db(db_url), args.run, args.at, _changes(args.set), force=args.force)
    except Refused as e:
        return _refuse("fork", str(e))
    print(f"run {run_id}: a fork of run {args.run} at epoch {args.at}", file=sys.stderr)
    return _run_and_report(db_url, run_id, args)


def register(sub, with_db) -> None:
    """Add `resume` and `fork` to the `nnlab` subcommands."""
    p = with_db(sub.add_parser("resume", help="go on training a crashed, cancelled or failed run from its checkpoint"))
    p.add_argument("run", type=int, metavar="RUN", help="run id")
    p.add_argument("--epochs", type=int, default=None,
                   help="train to this many epochs instead of the planned ones (extends a completed run)")
    p.add_argument("--force", action="store_true",
                   help="resume a run trained by another engine version (no longer exactly reproducible)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the result at the end")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(fn=cmd_resume)

    p = with_db(sub.add_parser("fork", help="a new run from a run's state at epoch K, with knobs changed"))
    p.add_argument("run", type=int, metavar="RUN", help="the parent run's id")
    p.add_argument("--at", type=int, required=True, metavar="K", help="the parent's epoch to start from")
    p.add_argument("--set", action="append", metavar="NAME=VALUE",
                   help=f"a knob to change (repeatable): {', '.join(FORKABLE)}")
    p.add_argument("--force", action="store_true",
                   help="fork a run trained by another engine version (no longer exactly reproducible)")
    p.add_argument("--json", action="store_true", help="print one JSON object with the result at the end")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(fn=cmd_fork)
