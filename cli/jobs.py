"""`nnlab sweep` and `nnlab cancel`: the dashboard's Sweep and Cancel from the command line.

A sweep goes the dashboard's way: its runs are queued in the database as one experiment, warm
workers (jobs/worker.py) train them, and this command watches the runs table until they end.
"""

from __future__ import annotations

import json
import sys
import time

from engine.spec import SpecError

from . import arg_types as T
from .format import render, to_json
from .worker import broker_url
from .train_args import add_spec_arguments, spec_values

EXIT_USAGE, EXIT_INTERRUPTED = 2, 130
FINAL = ("completed", "cancelled", "failed", "crashed")
POLL_S = 0.1
CHECK_WORKERS_S = 5.0


def _refuse(command: str, message: str) -> int:
    print(f"nnlab {command}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


class SweepProgress:
    """One line on stderr: runs done/total, running, failed, ETA (redrawn on a terminal, at most one
    line every 5 s in a log file)."""

    def __init__(self, total: int, stream=None) -> None:
        self.total, self.stream = total, stream or sys.stderr
        self.start, self._last = time.monotonic(), float("-inf")
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._line = ""

    def update(self, statuses: dict[int, str]) -> None:
        done = sum(s in FINAL for s in statuses.values())
        running = sum(s == "running" for s in statuses.values())
        failed = sum(s in ("failed", "crashed") for s in statuses.values())
        elapsed = time.monotonic() - self.start
        eta = f"ETA {elapsed / done * (self.total - done):.0f}s" if done else "ETA -"
        line = f"runs {done}/{self.total} done · {running} running · {failed} failed · {elapsed:.0f}s · {eta}"
        if line == self._line:
            return
        self._line = line
        now = time.monotonic()
        if self.tty:
            self.stream.write("\r" + line.ljust(70))
        elif now - self._last >= 5.0 or done == self.total:
            self.stream.write(line + "\n")
            self._last = now
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def _grid_text(grid: list[str]) -> str:
    lines = []
    for item in grid or []:
        if "=" not in item:
            raise SpecError("grid", f"{item!r} should look like NAME=v1,v2 or NAME=a..b")
        lines.append(item.replace("=", " = ", 1))
    if not lines:
        raise SpecError("grid", "give at least one --grid NAME=v1,v2 (e.g. --grid optimizer=sgd,adam)")
    return "\n".join(lines)


def cmd_sweep(args) -> int:
    """Queue the grid as one experiment, let the warm workers train it, show progress, then the results."""
    from jobs.queue import default_experiment_name, enqueue
    from jobs.sweep import expand_sweep
    from jobs.threads import default_max_running
    from jobs.worker import ensure_workers
    from storage import reads
    from storage.db import check_db_url, open_db, resolve_db_url

    try:
        specs = expand_sweep(spec_values(args), _grid_text(args.grid))
    except SpecError as e:
        return _refuse("sweep", str(e))
    db_url = check_db_url(resolve_db_url(args.db))
    db = open_db(db_url)
    name = (args.experiment or "").strip() or default_experiment_name()
    if reads.experiment_exists(db, name) and not args.append:
        return _refuse("sweep", f"experiment {name!r} already exists; choose another --experiment or add "
                                f"these runs to it with --append")
    max_running = args.max_running or default_max_running()
    broker = broker_url(args.broker)
    if broker:  # the workers of the broker train them (each as many at once as its --concurrency)
        from jobs.cluster import wake
        from storage.db import mask_url

        run_ids = enqueue(specs, db_url, experiment=name)
        wake(broker, len(run_ids))
        where = f"on the workers of {mask_url(broker)}"
    else:
        ensure_workers(db_url, max_running, wanted=len(specs))  # they start while the grid is queued
        run_ids = enqueue(specs, db_url, experiment=name)
        where = f"at most {max_running} at once"
    print(f"sweep '{name}': {len(run_ids)} runs queued (#{run_ids[0]}-#{run_ids[-1]}), {where}", file=sys.stderr)
    bar = None if args.quiet else SweepProgress(len(run_ids))
    try:
        _wait(db, db_url, run_ids, None if broker else max_running, bar)
    except KeyboardInterrupt:
        if bar:
            bar.close()
        _cancel_sweep(db, run_ids)
        _report(db, name, run_ids, args.json)
        return EXIT_INTERRUPTED
    if bar:
        bar.close()
    statuses = _report(db, name, run_ids, args.json)
    return 0 if all(s == "completed" for s in statuses.values()) else 1


def _wait(db, db_url: str, run_ids: list[int], max_running: int | None, bar) -> None:
    """Poll the runs table until every run of the sweep has a final status; restart local workers that
    died (`max_running` None: the broker's workers watch the queue themselves)."""
    from jobs.worker import ensure_workers
    from storage import reads, writes

    checked = time.monotonic()
    while True:
        statuses = reads.run_statuses(db, run_ids)
        if bar:
            bar.update(statuses)
        if all(s in FINAL for s in statuses.values()):
            return
        if time.monotonic() - checked >= CHECK_WORKERS_S:
            writes.mark_crashed_runs(db)
            queued = sum(s == "queued" for s in statuses.values())
            if queued and max_running is not None:
                ensure_workers(db_url, max_running, wanted=queued)
            checked = time.monotonic()
        time.sleep(POLL_S)


def _cancel_sweep(db, run_ids: list[int], wait_s: float = 10.0) -> None:
    """Ctrl-C: queued runs become cancelled; running ones stop at their next epoch (waited for a while)."""
    from storage import reads, writes

    for run_id in run_ids:
        writes.request_cancel(db, run_id)
    print("nnlab sweep: interrupted: queued runs cancelled, running runs stop at their next epoch",
          file=sys.stderr)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if all(s in FINAL for s in reads.run_statuses(db, run_ids).values()):
            return
        time.sleep(POLL_S)


def _report(db, name: str, run_ids: list[int], as_json: bool) -> dict[int, str]:
    """Print the sweep's runs (a table, or one JSON object); returns {run id: status}."""
    from storage import reads

    rows = {r.id: r for r in reads.list_runs(db, run_ids=run_ids, limit=None, reap=False)}
    runs = [rows[i] for i in run_ids if i in rows]
    if as_json:
        out = {"experiment": name, "run_ids": run_ids,
               "runs": [{"run_id": r.id, "status": r.status, "diverged": r.diverged,
                         **{k: s.get("last") for k, s in sorted(r.summary.items())}} for r in runs]}
        print(to_json(out))
    else:
        differing = _differing_params(runs)
        cols = ("id", *differing, "status", "epochs", "val_accuracy", "best_val_accuracy", "val_loss")
        table = [(r.id, *[r.params.get(p) for p in differing],
                  r.status + (" (diverged)" if r.diverged else ""), f"{r.epochs_done}/{r.epochs_planned}",
                  r.summary.get("val_accuracy", {}).get("last"), r.summary.get("val_accuracy", {}).get("best"),
                  r.summary.get("val_loss", {}).get("last")) for r in runs]
        print(render(cols, table))
    return {r.id: r.status for r in runs}


def _differing_params(runs) -> list[str]:
    names = sorted({k for r in runs for k in r.params})
    return [n for n in names if len({json.dumps(r.params.get(n), sort_keys=True, default=str) for r in runs}) > 1]


def cmd_cancel(args) -> int:
    """Cancel runs by id, or every unfinished run of an experiment."""
    from storage import reads, writes
    from storage.db import RunNotFound, check_db_url, open_db, resolve_db_url

    if bool(args.runs) == bool(args.experiment):
        return _refuse("cancel", "give run ids or --experiment NAME (one of the two)")
    db = open_db(check_db_url(resolve_db_url(args.db), existing=True))
    if args.experiment:
        if not reads.experiment_exists(db, args.experiment):
            return _refuse("cancel", f"no experiment named {args.experiment!r}")
        run_ids = [r.id for r in reads.list_runs(db, experiment=args.experiment, status=["queued", "running"],
                                                 limit=None, reap=False)]
        if not run_ids:
            print(f"experiment {args.experiment!r} has no queued or running run")
            return 0
    else:
        run_ids = args.runs
        missing = [i for i in run_ids if reads.get_run(db, i) is None]
        if missing:
            return _refuse("cancel", f"no run {missing[0]}")
    for run_id in run_ids:
        try:
            before = writes.request_cancel(db, run_id)
        except RunNotFound:
            print(f"run {run_id}: no longer exists")
            continue
        if before == "cancelled":
            print(f"run {run_id}: cancelled")
        elif before == "running":
            print(f"run {run_id}: stops at its next epoch (every finished epoch is kept)")
        else:
            print(f"run {run_id}: already {before}; nothing to cancel")
    return 0


def register(sub, with_db) -> None:
    """Add `sweep` and `cancel` to the `nnlab` subcommands."""
    p = with_db(sub.add_parser("sweep", help="train a grid of runs as one experiment on the warm workers"))
    add_spec_arguments(p)
    p.add_argument("--grid", action="append", metavar="NAME=VALUES",
                   help="a knob and its values: optimizer=sgd,adam | seed=0..4 | hidden=64|128,64 (repeatable)")
    p.add_argument("--max-running", type=T.int_range(1, 64), default=None,
                   help="runs training at once on this machine (default: the number of cores)")
    p.add_argument("--broker", help="queue the runs for the `nnlab worker`s of this Celery broker "
                                    "(default: $NNLAB_BROKER; none: train on this machine)")
    p.add_argument("--append", action="store_true", help="add the runs to an existing --experiment")
    p.add_argument("--json", action="store_true", help="print one JSON object with the results at the end")
    p.add_argument("--quiet", action="store_true", help="no progress line")
    p.set_defaults(fn=cmd_sweep)

    p = with_db(sub.add_parser("cancel", help="cancel queued or running runs"))
    p.add_argument("runs", type=T.int_range(1, 2**31 - 1), nargs="*", metavar="RUN", help="run ids")
    p.add_argument("--experiment", type=T.text(200), help="cancel every queued or running run of this experiment")
    p.set_defaults(fn=cmd_cancel)
