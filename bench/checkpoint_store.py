"""What checkpoints cost a run in the store: time and bytes per epoch, and the size of 1,000 runs.

    .venv/bin/python bench/checkpoint_store.py [--epochs 3] [--runs 1000] [--only mlp,cnn,resnet200]

Each case trains `--epochs` epochs (spec defaults, Adam, snapshots off, 1 BLAS thread) with the
RunRecorder as run_experiment wires it, on a SQLite file, the default checkpoint budget
(ExperimentSpec.checkpoint_budget_mb). Columns:

  epoch s        median epoch as the trainer runs it (training and evaluation)
  encode ms      the recorder's time per checkpoint it took (Trainer.training_state + encode_checkpoint)
  write ms       one epoch batch with its checkpoint committed (log_epochs_with_checkpoints), median of 5;
  bare ms        the same batch without a checkpoint (what a run paid before checkpoints)
  % epoch        (encode + write - bare) / epoch: what an epoch that takes a checkpoint pays
  ckpt kB        one checkpoint's bytes
  kept/run       checkpoints a run of the default 20 epochs keeps under the default budget and time share
                 (jobs.recorder.checkpoint_stride with this encode and epoch, none in the first
                 CHECKPOINT_AFTER_S of training; the latest included), and their MB
  taken          checkpoints the recorder took in this run of --epochs epochs (kept ones and latest ones)
  % run          what they cost this run: (their encodings + taken x (write - bare)) / its epochs' time

Then the store: one default run (MLP on digits, 20 epochs, default budget) trained for real, its run
row and checkpoints copied `--runs` - 1 times, and the SQLite file's size measured (WAL folded in).
Other processes may be running: figures are indicative.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).name == "bench":
    sys.path[0] = str(Path(sys.path[0]).parent)  # run as a script: the repo first

from sqlalchemy import text

from engine.experiment import prepare, run_training
from engine.spec import ExperimentSpec, parse_spec
from jobs.recorder import CHECKPOINT_AFTER_S, CHECKPOINT_SHARE, MB, RunRecorder, checkpoint_stride
from jobs.run import create_queued_run, run_experiment
from storage import reads
from storage.checkpoints import checkpoint_bytes, list_checkpoints, log_epochs_with_checkpoints, read_checkpoint
from storage.db import checkpoint as fold_wal
from storage.db import open_db, write_tx
from storage.epoch_log import log_epochs

CASES = {
    "mlp": {"model": "mlp", "dataset": "digits"},
    "cnn": {"model": "cnn", "dataset": "fashion-mnist"},
    "resnet200": {"model": "resnet", "dataset": "digits", "depth": 200, "batchnorm": True},
}
DEFAULT_EPOCHS = ExperimentSpec().epochs


def _median_ms(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _recorded_run(spec, url: str, **recorder_args) -> tuple[int, RunRecorder]:
    db = open_db(url)
    run_id = create_queued_run(spec, url, status="running")
    recorder = RunRecorder(db, run_id, checkpoint_budget_mb=spec.checkpoint_budget_mb, **recorder_args)
    summary = run_training(prepare(spec), [recorder])
    recorder.finish("completed", step=summary.epochs_run)
    return run_id, recorder


def bench_case(name: str, epochs: int, tmp: str) -> dict:
    spec = parse_spec({**CASES[name], "epochs": epochs, "optimizer": "adam", "snapshots": False})
    url = f"sqlite:///{tmp}/{name}.db"
    db = open_db(url)
    run_id, recorder = _recorded_run(spec, url)  # as run_experiment records it
    seconds = [v for _, v in reads.get_metric_history(db, run_id)["epoch_seconds"]]
    taken = recorder.checkpoints_taken
    run_share = recorder.checkpoint_seconds  # plus their writes, below
    if not taken:  # a run too short for one: time one anyway, for the per-checkpoint columns
        run_id, recorder = _recorded_run(spec, url, checkpoint_after_s=0.0)
    blob = read_checkpoint(db, run_id).data
    metrics = {"train_loss": 0.1, "val_loss": 0.2, "train_accuracy": 0.9, "val_accuracy": 0.8, "lr": 1e-3,
               "epoch_seconds": 1.0}
    step = iter(range(1000, 10**6))
    write = _median_ms(lambda: log_epochs_with_checkpoints(db, run_id, [(s := next(step), metrics)], [(s, 1, blob)]))
    bare = _median_ms(lambda: log_epochs(db, run_id, [(next(step), metrics)]))
    encode_s = recorder.checkpoint_seconds / recorder.checkpoints_taken
    stride = checkpoint_stride(int(ExperimentSpec().checkpoint_budget_mb * MB), len(blob), DEFAULT_EPOCHS,
                               encode_s=encode_s, epoch_s=statistics.median(seconds), share=CHECKPOINT_SHARE)
    first = max(1, math.ceil(CHECKPOINT_AFTER_S / statistics.median(seconds)))  # none in the first quarter second
    grid = range(first, DEFAULT_EPOCHS + 1, stride) if stride else []  # epochs first, first + stride, ...
    kept = (len(grid) + (DEFAULT_EPOCHS not in grid)) if first <= DEFAULT_EPOCHS else 0  # and the latest
    run_share = (run_share + taken * (write - bare) / 1e3) / sum(seconds)
    return {"epoch": statistics.median(seconds), "encode": encode_s * 1e3,
            "write": write, "bare": bare, "bytes": len(blob), "kept": kept, "taken": taken, "run": run_share}


def store_size(runs: int, tmp: str) -> dict:
    """A default run's checkpoints, times `runs`: the SQLite file's size."""
    url = f"sqlite:///{tmp}/store.db"
    db = open_db(url)
    result = run_experiment({"model": "mlp", "dataset": "digits", "snapshots": False}, url)
    per_run = checkpoint_bytes(db, [result.run_id])
    kept = len(list_checkpoints(db, result.run_id))
    with write_tx(db) as conn:
        for _ in range(runs - 1):
            new_id = conn.execute(text(
                "INSERT INTO runs (name, status, created_at, seed, model, dataset, spec, notes, engine_version, "
                "diverged, cancel_requested, epochs_planned, epochs_done, host) SELECT name, status, created_at, "
                "seed, model, dataset, spec, notes, engine_version, diverged, cancel_requested, epochs_planned, "
                "epochs_done, host FROM runs WHERE id = :id RETURNING id"), {"id": result.run_id}).scalar()
            conn.execute(text("INSERT INTO checkpoints (run_id, epoch, version, nbytes, data) SELECT :new, epoch, "
                              "version, nbytes, data FROM checkpoints WHERE run_id = :id"),
                         {"new": new_id, "id": result.run_id})
    fold_wal(db)
    return {"per_run": per_run, "kept": kept, "total": checkpoint_bytes(db),
            "file": os.path.getsize(f"{tmp}/store.db")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--only", default=",".join(CASES))
    args = parser.parse_args()
    from threadpoolctl import threadpool_limits

    budget = ExperimentSpec().checkpoint_budget_mb
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, 1 BLAS thread, epochs: {args.epochs}, "
          f"default checkpoint budget: {budget} MB")
    print(f"{'case':10s} {'epoch s':>8s} {'encode ms':>9s} {'write ms':>8s} {'bare ms':>7s} {'% epoch':>7s} "
          f"{'ckpt kB':>8s} {'kept/run':>12s} {'taken':>5s} {'% run':>6s}")
    with tempfile.TemporaryDirectory() as tmp, threadpool_limits(1, user_api="blas"):
        for name in args.only.split(","):
            f = bench_case(name, args.epochs, tmp)
            share = (f["encode"] + f["write"] - f["bare"]) / 1e3 / f["epoch"] * 100
            print(f"{name:10s} {f['epoch']:8.3f} {f['encode']:9.2f} {f['write']:8.2f} {f['bare']:7.2f} "
                  f"{share:7.3g} {f['bytes'] / 1e3:8.1f} {f['kept']:4d} ({f['kept'] * f['bytes'] / 1e6:.2f} MB) "
                  f"{f['taken']:5d} {100 * f['run']:6.2f}",
                  flush=True)
        if args.runs:
            s = store_size(args.runs, tmp)
            print(f"store: {args.runs} default runs (MLP / digits, {DEFAULT_EPOCHS} epochs, {s['kept']} checkpoints "
                  f"each, {s['per_run'] / 1e6:.2f} MB a run): checkpoints {s['total'] / 1e9:.2f} GB, SQLite file "
                  f"{s['file'] / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
