"""Storage benchmark: fill a store with 10,000 runs x 100 epochs x 8 metrics and time what the lab does.

    .venv/bin/python bench/storage.py [--db PATH] [--keep] [--runs 10000] [--epochs 100]

The fill uses bulk inserts (that is not what is being measured); the write rate is measured through the
real `log_epoch` on a sample. Timings are medians of several repeats, warm cache. Other processes may
be running on the machine at the same time: treat the figures as an upper bound.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import (close_all, count_runs, create_run, delete_runs, get_metric_histories,  # noqa: E402
                     get_run, grouped_metric_stats, list_runs, log_epoch, log_epochs, open_db, start_run)
from storage.db import checkpoint, write_tx  # noqa: E402
from storage.models import (Experiment, Metric, MetricSeries, MetricSummary, Param, Run, RunTag,  # noqa: E402
                            utcnow)
from storage.series import pack  # noqa: E402
from storage.values import encode_param  # noqa: E402

KEYS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr", "epoch_seconds", "grad_norm", "test_note")
OPTIMIZERS = ("sgd", "momentum", "adam", "rmsprop")
LRS = (0.1, 0.03, 0.01, 0.003, 0.001)
RUNS_PER_EXPERIMENT = 1000


def _curves(rng: np.random.Generator, epochs: int) -> np.ndarray:
    """(8, epochs) plausible metric curves for one run."""
    t = np.arange(1, epochs + 1)
    rate = rng.uniform(0.02, 0.2)
    train_loss = 2.3 * np.exp(-rate * t) + rng.uniform(0.01, 0.2) + rng.normal(0, 0.01, epochs)
    val_loss = train_loss + rng.uniform(0, 0.3) * (t / epochs) + rng.normal(0, 0.02, epochs)
    train_acc = np.clip(1 - train_loss / 2.5, 0, 1)
    val_acc = np.clip(1 - val_loss / 2.5, 0, 1)
    return np.stack([train_loss, val_loss, train_acc, val_acc, np.full(epochs, 0.01), rng.uniform(0.01, 0.03, epochs),
                     rng.uniform(0.1, 5, epochs), rng.normal(0, 1, epochs)])


def fill(engine, n_runs: int, epochs: int, seed: int = 0) -> float:
    """Bulk-insert n_runs finished runs with params, tags, metrics, summaries and the packed series
    finish_run would write; returns seconds."""
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    now = utcnow()
    n_exp = max(1, n_runs // RUNS_PER_EXPERIMENT)
    with write_tx(engine) as conn:
        conn.execute(Experiment.__table__.insert(), [{"name": f"exp-{i}", "created_at": now, "description": ""}
                                                     for i in range(n_exp)])
        exp_ids = [r[0] for r in conn.execute(text("SELECT id FROM experiments ORDER BY id"))]
    batch = 200
    for first in range(0, n_runs, batch):
        runs, params, tags, metrics, summaries, series = [], [], [], [], [], []
        for i in range(first, min(first + batch, n_runs)):
            run_id = i + 1
            p = {"optimizer": OPTIMIZERS[i % 4], "lr": LRS[(i // 4) % 5], "hidden": "64,32", "activation": "relu",
                 "batch_size": 32, "seed": i % 7}
            runs.append({"id": run_id, "experiment_id": exp_ids[i // RUNS_PER_EXPERIMENT % n_exp], "name": f"run {i}",
                         "status": "completed", "created_at": now, "started_at": now, "ended_at": now,
                         "heartbeat_at": now, "seed": i % 7, "model": "mlp", "dataset": "digits", "spec": "{}",
                         "notes": "", "engine_version": "bench", "diverged": False, "cancel_requested": False,
                         "epochs_planned": epochs, "epochs_done": epochs, "num_params": 6000, "pid": None, "host": ""})
            for name, value in p.items():
                vt, vn, ty = encode_param(value)
                params.append({"run_id": run_id, "name": name, "value_text": vt, "value_num": vn, "value_type": ty})
            tags.append({"run_id": run_id, "tag": "bench"})
            curves = _curves(rng, epochs)
            for k, key in enumerate(KEYS):
                row = curves[k].tolist()
                metrics.extend({"run_id": run_id, "key": key, "step": st + 1, "value": v, "flag": 0}
                               for st, v in enumerate(row))
                best = int(np.argmin(curves[k]) if key.endswith("loss") else np.argmax(curves[k]))
                summaries.append({"run_id": run_id, "key": key, "last_value": row[-1], "last_step": epochs,
                                  "last_flag": 0, "best_value": row[best], "best_step": best + 1, "nonfinite_count": 0})
                # what finish_run packs from the rows above (the floats as the database returns them)
                series.append({"run_id": run_id, "key": key, **pack(np.arange(1, epochs + 1), row)})
        with write_tx(engine) as conn:
            conn.execute(Run.__table__.insert(), runs)
            conn.execute(Param.__table__.insert(), params)
            conn.execute(RunTag.__table__.insert(), tags)
            conn.execute(Metric.__table__.insert(), metrics)
            conn.execute(MetricSummary.__table__.insert(), summaries)
            conn.execute(MetricSeries.__table__.insert(), series)
        print(f"\r  filled {min(first + batch, n_runs):,}/{n_runs:,} runs", end="", flush=True)
    print()
    with write_tx(engine) as conn:
        if engine.dialect.name == "postgresql":  # ids were inserted explicitly: move the sequence past them
            conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('runs', 'id'), (SELECT max(id) FROM runs))")
        conn.exec_driver_sql("ANALYZE")  # planner statistics, as a long-used database would have
    checkpoint(engine)
    return time.perf_counter() - start


def timed(fn, repeats: int = 15) -> tuple[float, float]:
    """Median (wall, process CPU) seconds of fn() after one warm-up call.

    SQLite runs inside this process, so CPU time is what a query costs even when other processes
    compete for the cores; wall time is what a user would have waited on this machine right now.
    """
    fn()
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def log_epoch_cost(engine, n: int) -> tuple[float, float, float]:
    """(median wall ms, mean CPU ms, epochs/s by wall) of log_epoch with 8 metrics on a fresh run."""
    run_id = create_run(engine, {}, {"optimizer": "adam"}, experiment="log-epoch-sample")
    start_run(engine, run_id, pid=os.getpid(), host="bench")
    values = {k: 0.5 for k in KEYS}
    per_call = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for step in range(1, n + 1):
        t0 = time.perf_counter()
        log_epoch(engine, run_id, step, values)
        per_call.append(time.perf_counter() - t0)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    delete_runs(engine, [run_id])  # keep the file as filled, for the dashboard benchmark
    return statistics.median(per_call) * 1000, cpu / n * 1000, n / wall


def log_epochs_cost(engine, n: int, batch: int) -> tuple[float, float, float]:
    """(median wall ms, mean CPU ms per batch, epochs/s by wall) of log_epochs with `batch` epochs a call:
    what a run of short epochs pays (the recorder gathers its epochs for a quarter second)."""
    run_id = create_run(engine, {}, {"optimizer": "adam"}, experiment="log-epochs-sample")
    values = {k: 0.5 for k in KEYS}
    per_call = []
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for first in range(1, n + 1, batch):
        t0 = time.perf_counter()
        log_epochs(engine, run_id, [(step, values) for step in range(first, min(first + batch, n + 1))])
        per_call.append(time.perf_counter() - t0)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    delete_runs(engine, [run_id])
    return statistics.median(per_call) * 1000, cpu / len(per_call) * 1000, n / wall


def calibrate() -> float:
    """CPU seconds for a 10-million-step Python loop (about 0.3-0.5 s on an idle, recent core)."""
    c0 = time.process_time()
    x = 0
    for i in range(10_000_000):
        x += i
    return time.process_time() - c0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", help="SQLite file or database URL (default: a temporary file)")
    ap.add_argument("--keep", action="store_true", help="keep the database file afterwards")
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--log-sample", type=int, default=2000, help="log_epoch calls measured")
    args = ap.parse_args(argv)

    tmpdir = None
    if args.db is None:
        tmpdir = tempfile.mkdtemp(prefix="nnlab-bench-")
        args.db = os.path.join(tmpdir, "bench.db")
    engine = open_db(args.db)
    existing = count_runs(engine)
    print(f"database: {engine.url}  (other processes may be running on this machine)")
    if existing == 0:
        print(f"filling {args.runs:,} runs x {args.epochs} epochs x {len(KEYS)} metrics ...")
        fill_s = fill(engine, args.runs, args.epochs)
        print(f"  fill took {fill_s:.1f} s (bulk inserts)")
    else:
        print(f"reusing {existing:,} runs already in the database")
        args.runs = existing
    with engine.connect() as conn:
        points = conn.scalar(text("SELECT count(*) FROM metrics"))
        packed = conn.scalar(text("SELECT count(DISTINCT run_id) FROM metric_series"))
    print(f"{packed:,} of {args.runs:,} runs have packed series (the others' histories come from metrics)")
    rows = []

    ms, cpu_ms, rate = log_epoch_cost(engine, args.log_sample)
    rows.append(("log_epoch (8 metrics, 1 transaction)", f"{ms:.3f}", f"{cpu_ms:.3f}",
                 f"{rate:,.0f} epochs/s", ""))
    ms, cpu_ms, rate = log_epochs_cost(engine, args.log_sample, batch=25)
    rows.append(("log_epochs, batches of 25 epochs (1 transaction each)", f"{ms:.3f}", f"{cpu_ms:.3f}",
                 f"{rate:,.0f} epochs/s", "per batch"))
    if engine.dialect.name == "sqlite":
        path = engine.url.database
        checkpoint(engine)
        table_bytes = {}
        with engine.connect() as conn:
            for table in ("metrics", "metric_series"):
                try:
                    table_bytes[table] = conn.exec_driver_sql(
                        f"SELECT sum(pgsize) FROM dbstat WHERE name = '{table}'").scalar()
                except Exception:  # dbstat is an optional SQLite feature
                    break
        size = os.path.getsize(path)
        rows.append(("file size", "", "", f"{size / 1e6:,.0f} MB = {size / points:.1f} B/point", ""))
        for table, label in (("metrics", "metrics table"), ("metric_series", "metric_series (packed copy)")):
            if table_bytes.get(table):
                b = table_bytes[table]
                rows.append((label, "", "", f"{b / 1e6:,.0f} MB = {b / points:.1f} B/point", ""))

    def add(what, fn, detail="", goal="", repeats=15):
        wall, cpu = timed(fn, repeats)
        rows.append((what, f"{wall * 1000:.1f}", f"{cpu * 1000:.1f}", detail, goal))

    add("list_runs: top 100 by best val_accuracy", lambda: list_runs(engine, sort="metric:val_accuracy:best"),
        "reap on (default)", "< 20 ms")
    add("list_runs: newest 100", lambda: list_runs(engine, reap=False), "reap off")
    add("list_runs: params filter + metric sort", lambda: list_runs(
        engine, params={"optimizer": "adam", "lr": 0.01}, sort="metric:val_loss:best", reap=False), "reap off")
    add("count_runs (status)", lambda: count_runs(engine, status="completed"))
    add("get_run", lambda: get_run(engine, 1234 if args.runs > 1234 else 1))
    rng = np.random.default_rng(1)
    ids = [int(i) for i in rng.choice(np.arange(1, args.runs + 1), size=min(200, args.runs), replace=False)]
    add(f"histories of {len(ids)} runs, all 8 keys", lambda: get_metric_histories(engine, ids),
        f"{points // args.runs * len(ids):,} points", "< 100 ms", repeats=7)
    add(f"histories of {len(ids)} runs, 2 keys", lambda: get_metric_histories(engine, ids, ["train_loss", "val_loss"]),
        f"{points // args.runs * len(ids) // len(KEYS) * 2:,} points", "< 100 ms", repeats=7)
    exp = "exp-3" if args.runs >= 4 * RUNS_PER_EXPERIMENT else "exp-0"
    n_groups = len(grouped_metric_stats(engine, "val_accuracy", ["optimizer", "lr"], experiment=exp))
    add(f"grouped mean ± std, {min(args.runs, RUNS_PER_EXPERIMENT):,} runs (experiment)",
        lambda: grouped_metric_stats(engine, "val_accuracy", ["optimizer", "lr"], experiment=exp),
        f"{n_groups} (group, step) rows", "< 200 ms", repeats=7)
    id_list = list(range(1, min(1000, args.runs) + 1))
    add(f"grouped mean ± std, {len(id_list):,} runs (run_ids)",
        lambda: grouped_metric_stats(engine, "val_accuracy", ["optimizer", "lr"], run_ids=id_list),
        "", "< 200 ms", repeats=7)
    cal = calibrate()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    header = ("what", "wall ms", "cpu ms", "detail", "goal")
    width = [max(len(str(r[i])) for r in rows + [header]) for i in range(5)]
    line = "  ".join("{:<%d}" % w for w in width)
    print()
    print(line.format(*header))
    print(line.format(*("-" * w for w in width)))
    for r in rows:
        print(line.format(*r))
    print(f"\nmachine: {os.cpu_count()} cores, 1-min load average {load:.1f}; a 10M-step Python loop took "
          f"{cal:.2f} s of CPU (about 0.3-0.5 s on an idle recent core): scale the figures accordingly.")
    close_all()
    if args.keep:
        print(f"kept {args.db}")
    elif tmpdir:
        shutil.rmtree(tmpdir)
    elif existing == 0 and "://" not in args.db:  # a file this run created: remove it (and its WAL)
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(args.db + suffix):
                os.remove(args.db + suffix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
