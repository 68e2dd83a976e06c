"""`nnlab resume` and `nnlab fork`: go on from a run's checkpoint, or branch off it with knobs changed.

Both take the job path of `nnlab sweep`: the run is put in the queue (resume: the same row; fork: a new
row holding its parent's history up to the fork epoch; jobs/lineage.py), the warm workers train it
from the checkpoint (jobs/resume.py), and this command waits for it and prints what `nnlab train`
prints. Whatever cannot be done is refused with exit 2 and one line, before anything is changed.
"""

from __future__ import annotations

import json
import sys

from jobs.lineage import FORKABLE, Refused, fork_changes, prepare_fork, prepare_resume, resumes_from

from .jobs import EXIT_INTERRUPTED, _refuse, _wait


class EpochProgress:
    """`nnlab train`'s progress line for a run the workers train (its epochs read from the runs table)."""

    def __init__(self, db, run_id: int) -> None:
        from .progress import ProgressBar

        self.db, self.run_id, self.shown = db, run_id, -1
        self.bar = ProgressBar(0)

    def update(self, statuses: dict[int, str]) -> None:
        from types import SimpleNamespace

        from storage import reads

        found = reads.run_progress(self.db, run_ids=[self.run_id])
        run = found[0] if found else None
        if run is not None and run.epochs_done != self.shown and run.status != "queued":
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
    print(f"nnlab resume: {resumes_from(args.run, epoch)}", file=sys.stderr)
    return _run_and_report(db_url, args.run, args)


def cmd_fork(args) -> int:
    """Queue a new run that starts from a run's state at epoch --at with the --set knobs changed."""
    from storage.db import open_db, resolve_db_url

    db_url = resolve_db_url(args.db)
    notes: list[str] = []
    try:
        run_id = prepare_fork(open_db(db_url), args.run, args.at, fork_changes(args.set), force=args.force,
                              notes=notes)
    except Refused as e:
        return _refuse("fork", str(e))
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
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
