"""`nnlab worker`: a Celery worker that trains queued runs on this machine (see jobs/cluster.py) and
runs the dashboard's job slot (dashboard/worker_slot.py).

It fixes the BLAS threads of its pool processes (cores / --concurrency) before NumPy loads, by
replacing itself with `python -m cli.worker` (same pid, `main` below); the URLs travel in the
environment, not on the command line that `ps` shows.
"""

from __future__ import annotations

import os
import sys

EXIT_USAGE = 2


def broker_url(value: str | None) -> str | None:
    """--broker, else $NNLAB_BROKER."""
    return value or os.environ.get("NNLAB_BROKER") or None


def cmd_worker(args) -> int:
    """Replace this process with the Celery worker (python -m cli.worker)."""
    from jobs.threads import blas_env, cpu_count
    from jobs.worker import project_root
    from storage.db import resolve_db_url

    broker = broker_url(args.broker)
    if not broker:
        print("nnlab worker: error: give --broker redis://HOST:6379/0 (or set $NNLAB_BROKER)", file=sys.stderr)
        return EXIT_USAGE
    if args.concurrency < 1:
        print(f"nnlab worker: error: --concurrency must be at least 1, got {args.concurrency}", file=sys.stderr)
        return EXIT_USAGE
    env = blas_env(args.threads or max(1, cpu_count() // args.concurrency))
    env.update({"NNLAB_DB": resolve_db_url(args.db), "NNLAB_BROKER": broker,
                "PYTHONPATH": os.pathsep.join(filter(None, [project_root(), env.get("PYTHONPATH", "")]))})
    cmd = [sys.executable, "-m", "cli.worker", "--concurrency", str(args.concurrency),
           "--loglevel", args.loglevel]
    if args.name:
        cmd += ["--name", args.name]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, cmd, env)
    return 0  # not reached


def register(sub, with_db) -> None:
    """Add `worker` to the `nnlab` subcommands."""
    p = with_db(sub.add_parser("worker", help="train queued runs on this machine, woken through a Celery broker"))
    p.add_argument("--broker", help="Celery broker URL, e.g. redis://:PASSWORD@HOST:6379/0 (default: $NNLAB_BROKER)")
    p.add_argument("--concurrency", type=int, default=1, help="runs this worker trains at once (default 1)")
    p.add_argument("--name", default="", help="recorded in each run's worker column (default: host:pid)")
    p.add_argument("--threads", type=int, default=0,
                   help="BLAS threads per run (default: cores / --concurrency; give 1 when several workers "
                        "share a machine)")
    p.add_argument("--loglevel", default="INFO", help="Celery log level (default INFO)")
    p.set_defaults(fn=cmd_worker)


def main(argv: list[str] | None = None) -> int:
    """The worker process that `cmd_worker` becomes: URLs from $NNLAB_DB and $NNLAB_BROKER."""
    import argparse

    from dashboard.worker_slot import register_slot_task
    from jobs.cluster import default_worker_name, run_worker

    parser = argparse.ArgumentParser(prog="python -m cli.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--name", default="")
    parser.add_argument("--loglevel", default="INFO")
    args = parser.parse_args(argv)
    broker = os.environ["NNLAB_BROKER"]
    return run_worker(os.environ["NNLAB_DB"], broker, concurrency=args.concurrency,
                      name=args.name or default_worker_name(), loglevel=args.loglevel,
                      register_tasks=lambda app: register_slot_task(app, broker))


if __name__ == "__main__":
    sys.exit(main())
