"""`nnlab`: train, sweep, cancel, list, show, export and query runs, or serve the dashboard.

The database is --db, else $NNLAB_DB, else sqlite:///nnlab.db.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

from engine.spec import SpecError, parse_spec

from . import arg_types as T
from .db_cmd import add_db_parser
from .errors import OneLineParser, one_line_errors
from .format import render, to_json
from .progress import ProgressBar
from .train_args import add_spec_arguments, spec_values

EXIT_USAGE = 2


def _db_url(args, *, existing: bool = False) -> str:
    from storage.db import check_db_url, resolve_db_url

    return check_db_url(resolve_db_url(args.db), existing=existing)


def cmd_train(args) -> int:
    """Validate, then train one run with a progress bar; print the run id (or JSON with --json)."""
    from jobs.run import run_experiment
    from jobs.threads import default_max_running, limit_threads, threads_per_job

    try:
        spec = parse_spec(spec_values(args))
    except SpecError as e:
        print(f"nnlab train: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    # Same share of the cores as a dashboard job, so a terminal run beside them never oversubscribes
    # the machine (bench/concurrency.py shows what oversubscribed BLAS threads cost).
    limit_threads(args.threads or threads_per_job(default_max_running()))
    bar = None if args.quiet else ProgressBar(spec.epochs)
    result = run_experiment(spec, _db_url(args), on_progress=bar.update if bar else None)
    if bar:
        bar.close()
    diverged = bool(getattr(result, "diverged", False)) or result.outcome == "diverged"
    if args.json:
        out = {"run_id": result.run_id, "status": result.status, "num_params": result.num_params,
               "diverged": diverged, **{k: v for k, v in result.final.items()}}
        if result.error:
            out["error"] = result.error.strip().splitlines()[-1]
        print(to_json(out))
    else:
        print(f"run {result.run_id} {result.status}" + (" (diverged)" if diverged else ""))
        if result.error:
            print(result.error, file=sys.stderr)
    return 0 if result.status in ("completed", "cancelled") else 1


RUN_COLUMNS = ("id", "name", "status", "experiment", "model", "dataset", "optimizer", "lr", "epochs",
               "best_val_accuracy", "last_val_accuracy", "duration_s", "tags")


def _run_cells(run) -> list:
    best = run.summary.get("val_accuracy", {})
    return [run.id, run.name, run.status + (" (diverged)" if run.diverged else ""), run.experiment,
            run.model, run.dataset, run.params.get("optimizer"), run.params.get("lr"),
            f"{run.epochs_done}/{run.epochs_planned}", best.get("best"), best.get("last"),
            None if run.duration_s is None else round(run.duration_s, 1), ",".join(run.tags)]


def _parse_param_filters(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SpecError("param", f"{pair!r} must look like name=value, e.g. optimizer=adam")
        k, v = pair.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def cmd_runs(args) -> int:
    """List runs (newest first unless --sort), as a table, JSON or CSV."""
    from sqlalchemy.exc import SQLAlchemyError

    from storage import reads, writes
    from storage.db import open_db

    db = open_db(_db_url(args, existing=True))
    try:
        writes.mark_crashed_runs(db)
    except SQLAlchemyError as e:  # a full disk or a read-only store: list the runs anyway, unmarked
        print(f"nnlab runs: note: crashed runs not marked ({str(e.orig or e).strip().splitlines()[0]})",
              file=sys.stderr)
    try:
        params = _parse_param_filters(args.param)
    except SpecError as e:
        print(f"nnlab runs: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    runs = reads.list_runs(db, status=args.status, params=params or None, tag=args.tag, search=args.search,
                           experiment=args.experiment, sort=args.sort, descending=not args.asc,
                           limit=args.limit, offset=args.offset)
    if args.format == "json":
        print(to_json([_run_dict(r) for r in runs], indent=2))
    else:
        print(render(RUN_COLUMNS, [_run_cells(r) for r in runs], args.format))
    return 0


def _run_dict(run) -> dict:
    d = dataclasses.asdict(run)
    d["duration_s"] = run.duration_s
    return d


def cmd_show(args) -> int:
    """One run's config, status, summary metrics (and stored snapshots with --snapshots)."""
    from storage import reads
    from storage.db import open_db
    from storage.values import has_best

    db = open_db(_db_url(args, existing=True))
    run = reads.get_run(db, args.run)
    if run is None:
        print(f"nnlab show: error: run: no run {args.run} in this database", file=sys.stderr)
        return EXIT_USAGE
    if args.snapshots:
        from storage.snapshots import list_snapshots

        snaps = list_snapshots(db, args.run)
        if args.json:
            print(to_json([{"kind": s["kind"], "name": s.get("name"), "epoch": s["epoch"],
                             "shape": s["shape"]} for s in snaps]))
        else:
            from storage.snapshots import summarize_snapshots

            print(render(("kind", "names", "epochs", "bytes"), summarize_snapshots(snaps)))
        return 0
    if args.json:
        print(to_json(_run_dict(run), indent=2))
        return 0
    print(f"run {run.id}  {run.name or ''}  [{run.status}{', diverged' if run.diverged else ''}]")
    print(f"model {run.model} on {run.dataset}, {run.num_params or '?'} parameters, "
          f"epochs {run.epochs_done}/{run.epochs_planned}, duration {run.duration_s or 0:.1f}s")
    print("params: " + ", ".join(f"{k}={v}" for k, v in sorted(run.params.items())))
    rows = [(k, s.get("last"), s.get("last_step"), *((s.get("best"), s.get("best_step")) if has_best(k) else ("", "")))
            for k, s in sorted(run.summary.items())]
    print(render(("metric", "last", "at epoch", "best", "best at"), rows))
    if run.error:
        print("error:\n" + run.error)
    return 0


def cmd_export(args) -> int:
    """Write runs with their params and every metric point as CSV (long form) or JSON."""
    from storage import reads
    from storage.db import open_db

    db = open_db(_db_url(args, existing=True))
    runs = reads.list_runs(db, run_ids=args.runs or None, limit=args.limit)
    if args.snapshots:
        from storage.snapshots import export_snapshots

        files = sum(export_snapshots(db, r.id, args.snapshots) for r in runs)
        print(f"wrote {files} snapshot files under {args.snapshots}", file=sys.stderr)
    histories = reads.get_metric_histories(db, [r.id for r in runs])
    out = open(args.out, "w", newline="") if args.out else sys.stdout
    try:
        if args.format == "json":
            payload = [{**_run_dict(r), "metrics": {k: [[s, v] for s, v in pts]
                                                    for k, pts in histories.get(r.id, {}).items()}}
                       for r in runs]
            out.write(to_json(payload, indent=2) + "\n")
        else:
            rows = [(r.id, r.name, r.status, k, s, v) for r in runs
                    for k, pts in sorted(histories.get(r.id, {}).items()) for s, v in pts]
            out.write(render(("run_id", "name", "status", "key", "step", "value"), rows, "csv") + "\n")
    finally:
        if out is not sys.stdout:
            out.close()
    return 0


def cmd_query(args) -> int:
    """Run one read-only SQL statement against the results database."""
    from storage.readonly import QueryError, QueryRefused, resolve_query_url, run_readonly_query

    try:
        result = run_readonly_query(resolve_query_url(_db_url(args), args.query_db), args.sql,
                                    max_rows=args.max_rows, timeout_s=args.timeout)
    except QueryRefused as e:
        print(f"nnlab query: refused: {e}", file=sys.stderr)
        return EXIT_USAGE
    except QueryError as e:  # a syntax error, an unknown table, the time limit
        print(f"nnlab query: error: {e}", file=sys.stderr)
        return 1
    print(render(result.columns, result.rows, args.format))
    if result.truncated:
        print(f"(stopped at {args.max_rows} rows; raise --max-rows to see more)", file=sys.stderr)
    return 0


def cmd_serve(args) -> int:
    """Start the dashboard on waitress (jobs on warm workers here, or on `nnlab worker`s with --broker)."""
    from dashboard.serve import serve

    from .worker import broker_url

    return serve(_db_url(args), host=args.host, port=args.port, cache_dir=args.cache_dir,
                 max_running=args.max_running, celery=args.celery, broker=broker_url(args.broker),
                 debug=args.debug, threads=args.threads, query_db=args.query_db)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="nnlab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    def with_db(p):
        p.add_argument("--db", type=T.db_url, help="SQLAlchemy URL or SQLite file (default: $NNLAB_DB or sqlite:///nnlab.db)")
        return p

    p = with_db(sub.add_parser("train", help="train one run and record it"))
    add_spec_arguments(p)
    p.add_argument("--json", action="store_true", help="print one JSON object with the result at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--threads", type=T.int_range(0, 256), default=0,
                   help="BLAS threads (default: cores / $NNLAB_MAX_RUNNING, the share of one dashboard job)")
    p.set_defaults(fn=cmd_train)

    from . import jobs, worker

    jobs.register(sub, with_db)
    from .resume import register as register_resume
    register_resume(sub, with_db)
    worker.register(sub, with_db)

    p = with_db(sub.add_parser("runs", help="list runs"))
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--status", choices=("queued", "running", "completed", "cancelled", "failed", "crashed"))
    p.add_argument("--param", action="append", type=T.text(300),
                   help="filter on a hyperparameter, e.g. optimizer=adam")
    p.add_argument("--tag", type=T.text(100))
    p.add_argument("--search", type=T.text(200), help="text search over names, notes, tags, model, data set")
    p.add_argument("--experiment", type=T.text(200))
    p.add_argument("--sort", default="created_at", type=T.sort_key,
                   help="a run column (created_at, name, status...) or metric:<key>:best|last")
    p.add_argument("--asc", action="store_true", help="ascending order")
    p.add_argument("--limit", type=T.int_range(1, 1_000_000), default=100)
    p.add_argument("--offset", type=T.int_range(0, 10**12), default=0)
    p.set_defaults(fn=cmd_runs)

    p = with_db(sub.add_parser("show", help="show one run"))
    p.add_argument("run", type=T.int_range(1, 2**63 - 1))
    p.add_argument("--json", action="store_true")
    p.add_argument("--snapshots", action="store_true", help="list the inside-the-network snapshots stored")
    p.set_defaults(fn=cmd_show)

    p = with_db(sub.add_parser("export", help="export runs and metrics"))
    p.add_argument("--format", choices=("csv", "json"), default="csv")
    p.add_argument("--runs", type=T.int_range(1, 2**63 - 1), nargs="*", help="run ids (default: all, up to --limit)")
    p.add_argument("--limit", type=T.int_range(1, 10_000_000), default=100_000)
    p.add_argument("--out", type=T.output_file, help="file to write (default: stdout)")
    p.add_argument("--snapshots", metavar="DIR", type=T.output_folder,
                   help="also write each run's snapshots as DIR/run-<id>/<kind>/<epoch>-<name>.npy|.json")
    p.set_defaults(fn=cmd_export)

    p = with_db(sub.add_parser("query", help="run a read-only SQL query"))
    p.add_argument("sql")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--max-rows", type=T.int_range(1, 100_000), default=10_000, help="at most 100000")
    p.add_argument("--timeout", type=T.seconds(300), default=10.0, help="seconds before the query is stopped (<= 300)")
    p.add_argument("--query-db", type=T.db_url,
                   help="run queries through this URL, e.g. a reader role's (default: $NNLAB_QUERY_DB or --db)")
    p.set_defaults(fn=cmd_query)

    p = with_db(sub.add_parser("serve", help="start the dashboard"))
    p.add_argument("--host", default="127.0.0.1", type=T.text(253))
    p.add_argument("--port", type=T.int_range(1, 65535), default=8050)
    p.add_argument("--cache-dir", default=".nnlab-cache", type=T.output_folder,
                   help="diskcache folder for background jobs")
    p.add_argument("--max-running", type=T.int_range(0, 64), default=0, help="runs training at once (default: cores)")
    p.add_argument("--query-db", type=T.db_url,
                   help="the Query page runs SQL through this URL, e.g. a reader role's (default: $NNLAB_QUERY_DB or --db)")
    p.add_argument("--celery", action="store_true", help=argparse.SUPPRESS)  # gone: says to use --broker
    p.add_argument("--broker", help="train runs on the `nnlab worker`s of this Celery broker, e.g. "
                                    "redis://:PASSWORD@HOST:6379/0 (default: $NNLAB_BROKER; none: on this machine)")
    p.add_argument("--threads", type=T.int_range(1, 256), default=8, help="waitress request threads (default 8)")
    p.add_argument("--debug", action="store_true", help="Flask's development server with debugging")
    p.set_defaults(fn=cmd_serve)

    add_db_parser(sub, with_db)

    from .lessons import register as register_lessons  # `lesson` and `ablate` (issue 15)
    register_lessons(sub, with_db)
    return parser


@one_line_errors
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
