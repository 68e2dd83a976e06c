"""Epoch time of a run alone and with the concurrency limit of runs training at once.

    python bench/concurrency.py [--hidden 256,256] [--epochs 6]

Each run trains in its own `nnlab train` process with a given BLAS thread count. Cases:
  alone           1 run, all cores for BLAS
  limit, split    `cores` runs at once, each limited to cores / runs BLAS threads (what NN Lab does)
  limit, no split `cores` runs at once, each with all cores for BLAS (oversubscribed: what we avoid)
Prints the median epoch_seconds recorded in the database for each case.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def run_case(db_url: str, n_jobs: int, threads: int, spec: dict) -> list[float]:
    import json

    from jobs.threads import blas_env
    from storage import reads
    from storage.db import open_db

    env = blas_env(threads)
    env["PYTHONPATH"] = ROOT
    args = []
    for k, v in spec.items():
        flag = k.replace("_", "-")
        args += [f"--{flag}" if v else f"--no-{flag}"] if isinstance(v, bool) else [f"--{flag}", str(v)]
    procs = [subprocess.Popen([sys.executable, "-m", "cli", "train", "--db", db_url, *args, "--seed", str(s),
                               "--threads", str(threads), "--json", "--quiet"], env=env, stdout=subprocess.PIPE,
                              text=True) for s in range(n_jobs)]
    ids = [json.loads(p.communicate()[0])["run_id"] for p in procs]
    hist = reads.get_metric_histories(open_db(db_url), ids, ["epoch_seconds"])
    # the first epoch includes warm-up; keep the rest
    return [v for rid in ids for step, v in hist[rid]["epoch_seconds"] if step > 1]


def main() -> None:
    from jobs.threads import cpu_count, threads_per_job

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="256,256")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--dataset", default="digits")
    args = parser.parse_args()
    cores = cpu_count()
    spec = {"dataset": args.dataset, "hidden": args.hidden, "epochs": args.epochs, "batch_size": 32,
            "snapshots": False}
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/bench.db"
        cases = [("alone", 1, cores), (f"{cores} at once, split", cores, threads_per_job(cores)),
                 (f"{cores} at once, no split", cores, cores)]
        print(f"MLP {args.hidden} on {args.dataset}, batch 32; {cores} cores; median epoch time (s) after epoch 1")
        base = None
        for name, n, threads in cases:
            secs = statistics.median(run_case(db_url, n, threads, spec))
            base = base or secs
            print(f"  {name:<24} {n} job(s) x {threads} BLAS thread(s): {secs:.4f} s/epoch  ({secs / base:.2f}x alone)")


if __name__ == "__main__":
    main()
