"""A training job in a fresh interpreter: claim the next queued run (or a given one) and train it.

Background callbacks (DiskcacheManager forks them from the server; Celery from its worker) never
touch the database themselves: they start this module with `subprocess` and relay its output, so
no SQLite state crosses a fork. BLAS threads are fixed through the environment before NumPy loads.

Exit codes: 0 a run was trained (whatever its outcome), 3 nothing queued, 4 queued runs wait for
a free slot (the concurrency limit is reached).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable

EXIT_RAN, EXIT_EMPTY, EXIT_BUSY = 0, 3, 4


def execute_run(run_id: int, db_url: str) -> str:
    """Train an existing (queued or claimed) run from its stored spec; returns its final status.

    This is the importable job function: plain data in (a run id and a database URL), so that a
    Celery task can call it as well as the worker process below.
    """
    from storage import reads
    from storage.db import open_db

    from .run import run_experiment

    run = reads.get_run(open_db(db_url), run_id)
    if run is None:
        raise LookupError(f"run {run_id} does not exist in {db_url}")

    def progress(record, epochs):
        print(f"EPOCH {run_id} {record.epoch} {epochs}", flush=True)

    return run_experiment(run.spec, db_url, run_id=run_id, on_progress=progress).status


def claim_and_run(db_url: str, max_running: int, *, wait_s: float = 0.0, poll_s: float = 1.0) -> int:
    """Claim the oldest queued run once a slot is free (waiting up to `wait_s`) and train it.

    Waiting happens here, in one process polling the database, rather than by starting a new
    interpreter per attempt (which would steal CPU from the runs that are training).
    """
    from storage import reads, writes
    from storage.db import open_db

    db = open_db(db_url)
    deadline = time.monotonic() + wait_s
    while True:
        run_id = writes.claim_next_run(db, max_running=max_running, pid=os.getpid(), host=socket.gethostname())
        if run_id is not None:
            break
        if not reads.count_runs(db, status="queued"):
            return EXIT_EMPTY
        if time.monotonic() >= deadline:
            return EXIT_BUSY
        time.sleep(poll_s)
    print(f"RUN {run_id}", flush=True)
    status = execute_run(run_id, db_url)
    print(f"DONE {run_id} {status}", flush=True)
    return EXIT_RAN


def worker_command(db_url: str, max_running: int, wait_s: float = 600.0) -> list[str]:
    """The command line that starts one worker process."""
    return [sys.executable, "-u", "-m", "jobs.worker", "--db", db_url, "--next", "--max-running", str(max_running),
            "--wait", str(wait_s)]


def drain_queue(db_url: str, max_running: int, *, report: Callable[[str], None] = print,
                wait_s: float = 600.0, give_up_s: float = 3600.0) -> int:
    """Start worker processes one after another until the queue is empty; returns runs trained.

    Each worker waits (up to `wait_s`) for a free slot itself; the loop gives up after `give_up_s`
    without a slot. Safe to call from a forked process: it never opens the database itself.
    """
    from .threads import blas_env, threads_per_job

    env = blas_env(threads_per_job(max_running))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [project_root(), env.get("PYTHONPATH", "")]))
    trained, started = 0, time.monotonic()
    while True:
        # Same working directory as the caller, so a relative sqlite:///nnlab.db is the same file.
        proc = subprocess.Popen(worker_command(db_url, max_running, wait_s), stdout=subprocess.PIPE, text=True,
                                env=env)
        for line in proc.stdout:
            report(line.strip())
        code = proc.wait()
        if code == EXIT_RAN:
            trained, started = trained + 1, time.monotonic()
        elif code == EXIT_EMPTY or (code == EXIT_BUSY and time.monotonic() - started > give_up_s):
            return trained
        elif code != EXIT_BUSY:
            report(f"ERROR worker exited with status {code}")
            return trained


def project_root() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.worker", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="SQLAlchemy URL of the results database")
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--next", action="store_true", help="claim the oldest queued run")
    group.add_argument("--run-id", type=int, help="train this run")
    parser.add_argument("--max-running", type=int, default=1, help="concurrency limit for --next")
    parser.add_argument("--wait", type=float, default=0.0, help="seconds --next waits for a free slot")
    args = parser.parse_args(argv)
    if args.next:
        return claim_and_run(args.db, args.max_running, wait_s=args.wait)
    execute_run(args.run_id, args.db)
    return EXIT_RAN


if __name__ == "__main__":
    sys.exit(main())
