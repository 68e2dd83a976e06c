"""Cost of inside-the-network snapshots per model family: time and bytes, as a fraction of an epoch.

    .venv/bin/python bench/snapshots.py [--epochs 6] [--only cnn,lstm]

Each family trains from the spec defaults (the launch form's) for `--epochs` epochs with a
SnapshotRecorder in the training process (as run_experiment runs it) and its time cap lifted, to time
every planned epoch's views (compute, encode, write). The cap is then applied to those costs in a
replay of a default-length run (see `replay`): that is what a run pays on its training thread.

Columns:
  epoch ms      median epoch as the run sees it (training, evaluation, recording), without snapshots
  small ms      one epoch's small views computed, encoded and written
  big ms        the same with big views too (the log-spaced epochs 1, 2, 4, ... and the last)
  start ms      probe record + untrained (epoch 0) views + planning, once per run
  capped %      time on views over a run of the default epochs with the time cap (TimeBudget: a
                planned epoch is skipped when its expected cost would take snapshots over 5% of the run's
                time so far or the per-run floor; the last epoch always recorded), as % of its epochs
  kept          snapshot epochs the capped run records, of the default epochs + 1 (epoch 0)
  small kB, big kB   stored bytes of one epoch of each kind; run MB: the capped run's stored bytes

Snapshot time stays under 5% of the run, except for runs whose whole training takes less than
TIME_FLOOR_S / TIME_FRACTION (5 s): those may spend the floor, so a short run keeps every epoch's
views. Other processes may be running: figures are indicative.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).name == "bench":
    sys.path[0] = str(Path(sys.path[0]).parent)  # run as a script: the repo first

from engine.experiment import prepare, run_training
from engine.inspect import BIG_KINDS, plan_schedule
from engine.inspect.schedule import TIME_FLOOR_S, TimeBudget
from engine.spec import ExperimentSpec, parse_spec
from storage import writes
from storage.db import open_db
from jobs.recorder import RunRecorder
from jobs.snapshot_recorder import SnapshotRecorder
from storage.snapshots import list_snapshots

FAMILIES = {
    "perceptron/and": {"model": "perceptron", "dataset": "and"},
    "mlp/moons": {"model": "mlp", "dataset": "moons"},
    "mlp/digits": {"model": "mlp", "dataset": "digits"},
    "cnn/digits": {"model": "cnn", "dataset": "digits"},
    "resnet20-plain": {"model": "resnet", "dataset": "digits", "depth": 20, "residual": False},
    "resnet20-res-bn": {"model": "resnet", "dataset": "digits", "depth": 20, "batchnorm": True},
    "rnn/memory": {"model": "rnn", "dataset": "memory"},
    "lstm/sentiment": {"model": "lstm", "dataset": "sentiment"},
    "gru/memory": {"model": "gru", "dataset": "memory"},
    "transformer/sentiment": {"model": "transformer", "dataset": "sentiment"},
    "seq2seq-attn/reverse": {"model": "seq2seq", "dataset": "reverse", "attention": "additive"},
}


class TimedRecorder(SnapshotRecorder):
    """SnapshotRecorder that remembers how long each epoch's snapshots took (wall and CPU)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.per_epoch: dict[int, tuple[float, float, bool]] = {}
        self.start_s = 0.0

    def on_train_start(self, context):
        t0 = time.perf_counter()
        super().on_train_start(context)
        self.start_s = time.perf_counter() - t0

    def _record(self, epoch: int, big: bool) -> None:
        t0, c0 = time.perf_counter(), time.process_time()
        super()._record(epoch, big)
        self.per_epoch[epoch] = (time.perf_counter() - t0, time.process_time() - c0, big)


class EpochClock:
    """Wall and CPU time between consecutive epoch ends (the epoch, all callbacks included)."""

    def __init__(self) -> None:
        self.wall: list[float] = []
        self.cpu: list[float] = []

    def on_train_start(self, context):
        self._t, self._c = time.perf_counter(), time.process_time()

    def on_epoch_end(self, record):
        t, c = time.perf_counter(), time.process_time()
        self.wall.append(t - self._t)
        self.cpu.append(c - self._c)
        self._t, self._c = t, c

    def on_train_end(self, summary):
        pass


def replay(epochs: int, epoch_s: float, start_s: float, small_s: float, big_s: float, plan) -> dict:
    """Snapshot seconds of an `epochs`-long run with every planned epoch ('run_s') and with the
    recorder's TimeBudget applied as the recorder applies it ('capped_s', 'kept' epochs, 'big_kept')."""
    budget = TimeBudget()
    budget.spend(start_s)
    run_s, kept, big_kept, last_big = start_s, {0}, 1, False
    for e in range(1, epochs + 1):
        budget.add_training(epoch_s)
        small, big = plan.wants(e)
        if not (small or big):
            continue
        run_s += big_s if big else small_s
        if budget.allows(big_s if big else small_s, big_s if e < epochs else 0.0):
            budget.spend(big_s if big else small_s)
            kept.add(e)
            big_kept += big
            last_big = big and e == epochs
    if not last_big:  # on_train_end records the last epoch in full
        budget.spend(big_s)
        kept.add(epochs)
        big_kept += 1
    return {"run_s": run_s, "capped_s": budget.spent_s, "kept": len(kept), "big_kept": big_kept}


def bench_family(name: str, values: dict, epochs: int, folder: str) -> dict:
    spec = parse_spec({**values, "epochs": epochs})
    exp = prepare(spec)
    engine = open_db(f"sqlite:///{folder}/{name.replace('/', '_')}.db")
    run_id = writes.create_run(engine, spec.to_dict(), spec.params(), status="running")
    rec = TimedRecorder(engine, run_id, budget_mb=spec.snapshot_budget_mb,
                        time_budget=TimeBudget(floor_s=float("inf")))  # measure every planned epoch
    clock = EpochClock()
    run_training(exp, [clock, RunRecorder(engine, run_id), rec])
    # epoch k's snapshot time lands in the interval that ends at epoch k + 1
    snap = [rec.per_epoch.get(k, (0.0, 0.0, False)) for k in range(1, len(clock.wall))]
    epoch_s = statistics.median(w - s[0] for w, s in zip(clock.wall[1:], snap)) if snap else clock.wall[0]

    def med(big: bool) -> float:
        xs = [v[0] for e, v in rec.per_epoch.items() if v[2] == big and e > 0]
        return statistics.median(xs) if xs else float("nan")

    small_s, big_s = med(False), med(True)
    if math.isnan(small_s):  # every measured epoch had big views: a small one costs at most that
        small_s = big_s
    by_epoch: dict[int, dict[str, int]] = {}
    probe_b = 0
    for r in list_snapshots(engine, run_id):
        if r["kind"] == "probe":
            probe_b += r["nbytes"]
        elif r["kind"] != "note" and r["epoch"] > 0:
            slot = by_epoch.setdefault(r["epoch"], {"small": 0, "big": 0})
            slot["big" if r["kind"] in BIG_KINDS else "small"] += r["nbytes"]
    small_b = statistics.median(v["small"] for v in by_epoch.values()) if by_epoch else 0
    big_b = statistics.median([v["big"] for v in by_epoch.values() if v["big"]] or [0])
    default_epochs = ExperimentSpec().epochs
    plan = plan_schedule(default_epochs, small_b, big_b, int(spec.snapshot_budget_mb * 1e6), fixed_bytes=probe_b)
    r = replay(default_epochs, epoch_s, rec.start_s, small_s, big_s, plan)
    run_time = epoch_s * default_epochs
    return {"name": name, "epoch_ms": 1e3 * epoch_s, "small_ms": 1e3 * small_s, "big_ms": 1e3 * big_s,
            "start_ms": 1e3 * rec.start_s, "capped_pct": 100 * r["capped_s"] / run_time,
            "kept": f"{r['kept']}/{default_epochs + 1}", "small_kb": small_b / 1e3, "big_kb": big_b / 1e3,
            "run_mb": (probe_b + r["kept"] * small_b + r["big_kept"] * big_b) / 1e6}


COLUMNS = [("family", "name", "<22", ""), ("epoch ms", "epoch_ms", ">9", ".1f"),
           ("small ms", "small_ms", ">9", ".2f"), ("big ms", "big_ms", ">8", ".1f"), ("start ms", "start_ms", ">9", ".1f"),
           ("capped %", "capped_pct", ">9", ".1f"), ("kept", "kept", ">6", ""),
           ("small kB", "small_kb", ">9", ".1f"), ("big kB", "big_kb", ">7", ".1f"), ("run MB", "run_mb", ">7", ".2f")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs trained per family (default 6)")
    parser.add_argument("--only", default="", help="comma-separated family names (default: all)")
    args = parser.parse_args()
    names = [n for n in FAMILIES if not args.only or any(o in n for o in args.only.split(","))]
    d = ExperimentSpec()
    print(f"snapshot cost per family ({args.epochs} epochs measured each; run %, capped %, kept and run MB for "
          f"a {d.epochs}-epoch run, budget {d.snapshot_budget_mb} MB, floor {TIME_FLOOR_S} s); "
          "other processes may be running")
    print(" ".join(f"{head:{align[0]}{align[1:]}}" for head, _, align, _ in COLUMNS))
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            r = bench_family(name, FAMILIES[name], args.epochs, folder)
            print(" ".join(f"{r[key]:{align}{fmt}}" for _, key, align, fmt in COLUMNS), flush=True)


if __name__ == "__main__":
    main()
