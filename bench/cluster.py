"""Scale-out figures: sweep throughput on `nnlab worker`s vs the local warm workers, and the dashboard's
callbacks on PostgreSQL at 10,000 runs.

    python bench/cluster.py [--digits-runs 24] [--fashion-runs 4] [--dash-runs 10000] [--skip-dashboard]

Starts its own PostgreSQL cluster and redis-server in a temporary folder (the helpers of
tests/jobs/cluster_procs.py). Throughput: each sweep is `nnlab sweep` as a user runs it, on a fresh
database, after a one-run warm-up sweep (so every path has warm processes and its data loaded):
local with --max-running 1 and 2, then the Celery path with one and two workers of concurrency 1.
Overhead per run: the sweep's wall time minus its runs' own training time (started..ended, divided
by the slots), per run. Dashboard: fills a PostgreSQL database like bench/storage.py and runs
bench/dashboard.py against it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DIGITS = ["--dataset", "digits", "--model", "mlp", "--hidden", "64", "--epochs", "10", "--no-snapshots"]
FASHION = ["--dataset", "fashion-mnist", "--model", "mlp", "--hidden", "128", "--epochs", "2", "--no-snapshots"]


def sweep(db_url: str, args: list[str], runs: int, experiment: str, broker: str | None = None,
          max_running: int = 1) -> dict:
    """Run `nnlab sweep`; wall time, runs per minute and the overhead per run beside the training."""
    from storage import reads
    from storage.db import open_db

    cmd = [sys.executable, "-m", "cli", "sweep", "--db", db_url, *args, "--grid", f"seed=0..{runs - 1}",
           "--experiment", experiment, "--json", "--quiet"]
    cmd += ["--broker", broker] if broker else ["--max-running", str(max_running)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NNLAB_WORKER_IDLE_S": "120"}
    env.pop("NNLAB_BROKER", None)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=3600)
    wall = time.perf_counter() - t0
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-2000:])
    ids = json.loads(out.stdout)["run_ids"]
    rows = reads.list_runs(open_db(db_url), run_ids=ids, limit=None, reap=False)
    train = sum((r.ended_at - r.started_at).total_seconds() for r in rows)
    workers = {r.worker for r in rows}
    slots = max_running if not broker else len(workers)
    return {"runs": len(ids), "wall_s": wall, "per_min": 60 * len(ids) / wall,
            "train_s_per_run": train / len(ids), "overhead_ms": 1000 * (wall - train / slots) / len(ids),
            "workers": sorted(workers)}


def throughput(pg, redis, tmp: Path, workload: str, args: list[str], runs: int) -> list[tuple]:
    from tests.jobs.cluster_procs import Worker
    from tests.storage.conftest import fresh_postgres_db

    rows = []
    for label, slots in (("local, --max-running 1", 1), ("local, --max-running 2", 2)):
        db = fresh_postgres_db(pg.url)
        sweep(db, args, 1, "warm-up", max_running=slots)
        rows.append((workload, label, sweep(db, args, runs, "bench", max_running=slots)))
    for n in (1, 2):
        db = fresh_postgres_db(pg.url)
        workers = [Worker(tmp, f"b{n}{i}", db, redis.url) for i in range(n)]
        try:
            for w in workers:
                w.wait_ready()
            sweep(db, args, n, "warm-up", broker=redis.url)
            rows.append((workload, f"Celery, {n} worker{'s' * (n > 1)} x concurrency 1",
                         sweep(db, args, runs, "bench", broker=redis.url)))
        finally:
            for w in workers:
                w.stop()
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--digits-runs", type=int, default=24)
    ap.add_argument("--fashion-runs", type=int, default=4)
    ap.add_argument("--dash-runs", type=int, default=10_000)
    ap.add_argument("--dash-epochs", type=int, default=100)
    ap.add_argument("--skip-dashboard", action="store_true")
    ap.add_argument("--skip-sweeps", action="store_true")
    args = ap.parse_args(argv)

    from storage.db import close_all
    from tests.jobs.cluster_procs import PrivatePostgres, Redis

    tmp = Path(tempfile.mkdtemp(prefix="nnlab-bench-cluster-"))
    pg, redis = PrivatePostgres(), Redis(tmp)
    pg.start()
    redis.start()
    try:
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, load "
              f"{os.getloadavg()[0]:.1f}; PostgreSQL and redis-server on this machine")
        if not args.skip_sweeps:
            rows = throughput(pg, redis, tmp, "digits MLP, 10 epochs", DIGITS, args.digits_runs)
            if args.fashion_runs:
                rows += throughput(pg, redis, tmp, "Fashion-MNIST MLP, 2 epochs", FASHION, args.fashion_runs)
            print(f"{'workload':<28} {'path':<36} {'runs':>4} {'wall s':>7} {'runs/min':>8} "
                  f"{'train s/run':>11} {'overhead ms/run':>15}  workers")
            for workload, label, r in rows:
                print(f"{workload:<28} {label:<36} {r['runs']:>4} {r['wall_s']:7.1f} {r['per_min']:8.1f} "
                      f"{r['train_s_per_run']:11.2f} {r['overhead_ms']:15.0f}  {','.join(r['workers'])}")
        if not args.skip_dashboard:
            from bench.storage import fill
            from storage.db import open_db
            from tests.storage.conftest import fresh_postgres_db

            db = fresh_postgres_db(pg.url)
            seconds = fill(open_db(db), args.dash_runs, args.dash_epochs)
            print(f"filled PostgreSQL with {args.dash_runs:,} runs x {args.dash_epochs} epochs in {seconds:.0f} s")
            close_all()
            subprocess.run([sys.executable, str(ROOT / "bench" / "dashboard.py"), "--db", db], cwd=ROOT, check=True,
                           env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        close_all()
        redis.stop()
        pg.remove()
    return 0


if __name__ == "__main__":
    sys.exit(main())
