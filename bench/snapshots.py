"""Cost of inside-the-network snapshots per model family: time and bytes, as a fraction of an epoch.

    .venv/bin/python bench/snapshots.py [--epochs 6] [--only cnn,lstm]

Each family trains from the spec defaults (the launch form's) for `--epochs` epochs with the
SnapshotRecorder writing to a temporary SQLite file, exactly as `run_experiment` attaches it. Per
epoch we time the whole epoch (training, evaluation, the other callbacks) and, separately, the
recorder's share. Columns:

  epoch s       median epoch time without the recorder's share (wall clock)
  small s / %   median snapshot time of an epoch with small views only, and as % of an epoch
  big s / %     median snapshot time of an epoch with big views too (log-spaced epochs)
  run %         all snapshot time of a run with the spec's default epochs (small every epoch, big at
                log-spaced ones, within the budget), as % of its training time; projected from the above
  capped %      the same once the recorder's time budget applies (planned epochs skipped while snapshots
                exceed 5% of training time, 0.25 s always allowed; the last epoch always recorded)
  start s       probe record + untrained (epoch 0) views + planning, once per run
  small kB / big kB   stored bytes of one epoch of each kind; run MB: projected for the default epochs
  CPU %         the same as small % in CPU time of this process (less disturbed by other processes)

Goal: capped % under 5 with the defaults (run % shows what every-epoch small views would cost). Other processes on this machine may be running: figures are
indicative, not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __name__ == "__main__" and Path(sys.path[0]).name == "bench":
    sys.path[0] = str(Path(sys.path[0]).parent)  # run as a script: the repo first

from engine.experiment import prepare, run_training
from engine.inspect import BIG_KINDS
from engine.inspect.schedule import TIME_FLOOR_S, TIME_FRACTION, log_epochs
from engine.spec import ExperimentSpec, parse_spec
from storage import writes
from storage.db import open_db
from storage.snapshot_recorder import SnapshotRecorder
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


def bench_family(name: str, values: dict, epochs: int, folder: str) -> dict:
    spec = parse_spec({**values, "epochs": epochs})
    exp = prepare(spec)
    engine = open_db(f"sqlite:///{folder}/{name.replace('/', '_')}.db")
    run_id = writes.create_run(engine, spec.to_dict(), spec.params(), status="running")
    rec, clock = TimedRecorder(engine, run_id, budget_mb=spec.snapshot_budget_mb), EpochClock()
    run_training(exp, [clock, rec])  # the clock sees each epoch end before the recorder works
    # epoch k's recorder time lands in the interval that ends at epoch k + 1
    own = [clock.wall[k] - rec.per_epoch.get(k, (0.0, 0.0, False))[0] for k in range(1, len(clock.wall))]
    own_cpu = [clock.cpu[k] - rec.per_epoch.get(k, (0.0, 0.0, False))[1] for k in range(1, len(clock.cpu))]
    epoch_s, epoch_cpu = statistics.median(own or clock.wall), statistics.median(own_cpu or clock.cpu)
    small = [(w, c) for e, (w, c, big) in rec.per_epoch.items() if not big]
    big = [(w, c) for e, (w, c, b) in rec.per_epoch.items() if b and e > 0]
    small_s = statistics.median(w for w, _ in small) if small else float("nan")
    small_cpu = statistics.median(c for _, c in small) if small else float("nan")
    big_s = statistics.median(w for w, _ in big) if big else float("nan")
    rows = list_snapshots(engine, run_id)
    by_epoch: dict[int, dict[str, int]] = {}
    for r in rows:
        if r["kind"] in ("probe", "note") or r["epoch"] == 0:
            continue
        slot = by_epoch.setdefault(r["epoch"], {"small": 0, "big": 0})
        slot["big" if r["kind"] in BIG_KINDS else "small"] += r["nbytes"]
    small_b = statistics.median(v["small"] for v in by_epoch.values()) if by_epoch else 0
    big_b = statistics.median(v["big"] for v in by_epoch.values() if v["big"]) if any(
        v["big"] for v in by_epoch.values()) else 0
    default_epochs = ExperimentSpec().epochs
    n_big = len(log_epochs(default_epochs)) - 1
    run_snap = small_s * (default_epochs - n_big) + big_s * n_big + rec.start_s
    budget = spec.snapshot_budget_mb * 1e6
    run_bytes = min(small_b * default_epochs + big_b * (n_big + 1) + rec.budget.spent - sum(
        sum(v.values()) for v in by_epoch.values()), budget)
    train_s = epoch_s * default_epochs
    capped = min(run_snap, max(TIME_FRACTION * train_s, TIME_FLOOR_S) + big_s)
    return {"name": name, "epoch_s": epoch_s, "capped_pct": 100 * capped / train_s, "small_s": small_s, "small_pct": 100 * small_s / epoch_s,
            "big_s": big_s, "big_pct": 100 * big_s / epoch_s, "run_pct": 100 * run_snap / (epoch_s * default_epochs),
            "start_s": rec.start_s, "small_kb": small_b / 1e3, "big_kb": big_b / 1e3, "run_mb": run_bytes / 1e6,
            "cpu_pct": 100 * small_cpu / epoch_cpu if epoch_cpu > 0 else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=6, help="epochs trained per family (default 6)")
    parser.add_argument("--only", default="", help="comma-separated family names (default: all)")
    args = parser.parse_args()
    names = [n for n in FAMILIES if not args.only or any(o in n for o in args.only.split(","))]
    head = (f"{'family':<22} {'epoch s':>8} {'small s':>8} {'small %':>8} {'big s':>7} {'big %':>7} "
            f"{'run %':>6} {'capped %':>8} {'start s':>8} {'small kB':>9} {'big kB':>8} {'run MB':>7} {'CPU %':>6}")
    print(f"snapshot cost per family ({args.epochs} epochs each; run % and run MB projected for "
          f"{ExperimentSpec().epochs} epochs, budget {ExperimentSpec().snapshot_budget_mb} MB); "
          "other processes may be running")
    print(head)
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            r = bench_family(name, FAMILIES[name], args.epochs, folder)
            print(f"{r['name']:<22} {r['epoch_s']:>8.3f} {r['small_s']:>8.4f} {r['small_pct']:>8.1f} "
                  f"{r['big_s']:>7.3f} {r['big_pct']:>7.1f} {r['run_pct']:>6.1f} {r['capped_pct']:>8.1f} {r['start_s']:>8.3f} "
                  f"{r['small_kb']:>9.1f} {r['big_kb']:>8.1f} {r['run_mb']:>7.2f} {r['cpu_pct']:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
