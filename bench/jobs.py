"""The job path at the scale a user feels: a sweep, a run's start, what recording costs, memory.

    .venv/bin/python bench/jobs.py [--runs 16] [--repeats 5] [--skip-fashion] [--browser]

1. `nnlab sweep` of 16 twenty-epoch digits MLPs (seeds 0..15) with --max-running 2: its wall time
   against the ideal, the sum of the runs' own epoch_seconds spread over 2 slots.
2. Start (a queued row) to the first stored epoch of a digits MLP: with a warm worker idle, and with
   no worker running (the worker starts, imports, loads the data, trains, commits).
3. Recording cost, snapshots off: a 20-epoch digits run through run_experiment against the same
   training with no callbacks (data loaded once, both in this process, alternated); for a
   Fashion-MNIST MLP, the recorder's calls against the epoch. Snapshots measured separately.
4. Memory: peak RSS of a worker training a Fashion-MNIST MLP, and the processes per running run.
5. (--browser) In the dashboard: from the click on Start to the first epoch on the run's card.
BLAS: 1 thread for every measurement made in this process; the workers get cores / slots.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DIGITS = {"dataset": "digits", "model": "mlp", "epochs": 20, "snapshots": False}
FASHION = {"dataset": "fashion-mnist", "model": "mlp", "hidden": "128", "epochs": 2, "snapshots": False}


def _db(tmp: str, name: str) -> str:
    return f"sqlite:///{tmp}/{name}.db"


def _wait(predicate, timeout_s: float = 300.0, poll_s: float = 0.002):
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError("gave up waiting")
        time.sleep(poll_s)


def sweep_wall(tmp: str, runs: int) -> dict:
    """Wall time of `nnlab sweep` (as a user starts it) against the ideal of its runs' own epochs."""
    from storage import reads
    from storage.db import open_db

    db_url = _db(tmp, "sweep")
    cmd = [sys.executable, "-m", "cli", "sweep", "--db", db_url, "--dataset", "digits", "--model", "mlp",
           "--epochs", "20", "--no-snapshots", "--grid", f"seed=0..{runs - 1}", "--max-running", "2", "--json",
           "--quiet"]
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=True)
    wall = time.perf_counter() - t0
    ids = json.loads(out.stdout)["run_ids"]
    hist = reads.get_metric_histories(open_db(db_url), ids, ["epoch_seconds"])
    own = sum(v for i in ids for _, v in hist[i]["epoch_seconds"])
    ideal = own / 2
    return {"runs": len(ids), "wall_s": wall, "ideal_s": ideal, "target_s": 1.3 * ideal + 2}


def start_latency(tmp: str, repeats: int) -> dict:
    """Seconds from a queued row to its first stored epoch, warm worker idle vs no worker."""
    from jobs.queue import enqueue
    from jobs.worker import busy_slots, ensure_workers
    from storage import reads
    from storage.db import open_db

    warm, cold = [], []
    for i in range(repeats):
        db_url = _db(tmp, f"cold{i}")  # a new database: no worker serves it yet
        db = open_db(db_url)
        t0 = time.perf_counter()
        (run_id,) = enqueue([DIGITS], db_url)
        ensure_workers(db_url, 1, wanted=1)
        _wait(lambda: reads.get_run(db, run_id).epochs_done > 0)
        cold.append(time.perf_counter() - t0)
        _wait(lambda: reads.get_run(db, run_id).status == "completed")
        time.sleep(0.3)  # the worker is idle again, polling
        assert busy_slots(db_url, 1) == 1
        t0 = time.perf_counter()
        (run_id,) = enqueue([{**DIGITS, "seed": 1}], db_url)
        _wait(lambda: reads.get_run(db, run_id).epochs_done > 0)
        warm.append(time.perf_counter() - t0)
    return {"warm_s": warm, "cold_s": cold}


def recording_cost(tmp: str, repeats: int) -> dict:
    """run_experiment (records every epoch, batched) vs the same training with no callbacks."""
    from threadpoolctl import threadpool_limits

    from engine.data import load_dataset
    from engine.experiment import prepare, run_training
    from engine.spec import parse_spec
    from jobs.run import run_experiment

    db_url = _db(tmp, "record")
    spec = parse_spec(DIGITS)
    data = load_dataset(spec)
    plain, recorded, snap = [], [], []
    with threadpool_limits(limits=1, user_api="blas"):
        run_experiment(spec, db_url, data=data)  # warm-up: imports, schema, caches
        for _ in range(repeats):
            t0 = time.perf_counter()
            run_training(prepare(spec, data=data), [])
            plain.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            run_experiment(spec, db_url, data=data)
            recorded.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            run_experiment(parse_spec({**DIGITS, "snapshots": True}), db_url, data=data)
            snap.append(time.perf_counter() - t0)
    return {"plain_s": statistics.median(plain), "recorded_s": statistics.median(recorded),
            "snapshots_s": statistics.median(snap)}


class _CallTimer:
    """Wraps a callback and sums the time of its calls (what the training loop waits for)."""

    def __init__(self, inner) -> None:
        self.inner, self.seconds = inner, 0.0

    def __getattr__(self, name):
        fn = getattr(self.inner, name)

        def timed(*args):
            t0 = time.perf_counter()
            try:
                return fn(*args)
            finally:
                self.seconds += time.perf_counter() - t0
        return timed


def fashion_recorder_share(tmp: str) -> dict:
    """The recorder's own calls against a Fashion-MNIST MLP epoch (1 BLAS thread)."""
    from threadpoolctl import threadpool_limits

    from engine.experiment import prepare, run_training
    from engine.spec import parse_spec
    from jobs.recorder import RunRecorder
    from storage import writes
    from storage.db import open_db

    db_url = _db(tmp, "fashion")
    db = open_db(db_url)
    spec = parse_spec(FASHION)
    run_id = writes.create_run(db, spec.to_dict(), spec.params())
    writes.start_run(db, run_id, pid=os.getpid(), host="bench")
    exp = prepare(spec)
    recorder = _CallTimer(RunRecorder(db, run_id))
    with threadpool_limits(limits=1, user_api="blas"):
        t0 = time.perf_counter()
        run_training(exp, [recorder])
        total = time.perf_counter() - t0
    return {"epoch_s": total / spec.epochs, "recorder_s_per_epoch": recorder.seconds / spec.epochs}


def worker_memory(tmp: str) -> dict:
    """Peak RSS of a warm worker while it trains a Fashion-MNIST MLP; processes in its tree."""
    import psutil

    from jobs.queue import enqueue
    from storage import reads
    from storage.db import open_db

    db_url = _db(tmp, "memory")
    db = open_db(db_url)
    from jobs.worker import ensure_workers

    (run_id,) = enqueue([FASHION], db_url)
    ensure_workers(db_url, 1, wanted=1)
    pid = _wait(lambda: reads.get_run(db, run_id).pid, poll_s=0.01)
    proc = psutil.Process(pid)
    peak, tree = 0, 1
    while reads.get_run(db, run_id).status in ("queued", "running"):
        try:
            peak = max(peak, proc.memory_info().rss)
            tree = max(tree, 1 + len(proc.children(recursive=True)))
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    return {"peak_rss_mb": peak / 1e6, "processes_per_run": tree}


def browser_click_to_epoch(tmp: str, repeats: int) -> list[float]:
    """Seconds from the click on Start to an epoch >= 1 on the run's card (nnlab serve, headless Chromium)."""
    import socket

    from selenium import webdriver
    from selenium.webdriver.common.by import By

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--db", _db(tmp, "browser"), "--port", str(port),
                               "--cache-dir", f"{tmp}/cache"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    options = webdriver.ChromeOptions()
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options)
    times = []
    try:
        _wait(lambda: _up(port), timeout_s=60, poll_s=0.1)
        driver.get(f"http://127.0.0.1:{port}/")
        _wait(lambda: driver.find_elements(By.ID, "launch-start"), poll_s=0.05)
        time.sleep(2)  # the prestarted worker is warm
        for i in range(repeats):
            run_id = i + 1  # a fresh database: the i-th Start queues run i + 1
            card = f"[id='{{\"run\":{run_id},\"type\":\"run-progress-text\"}}']"
            done = f"[id='{{\"run\":{run_id},\"type\":\"finished-run\"}}']"
            t0 = time.perf_counter()
            driver.find_element(By.ID, "launch-start").click()

            def shown():  # an epoch >= 1 on its card, or the run already listed as finished
                try:
                    texts = [e.text for e in driver.find_elements(By.CSS_SELECTOR, card)]
                    return driver.find_elements(By.CSS_SELECTOR, done) or any(
                        t.startswith("epoch ") and not t.startswith("epoch 0 ") for t in texts)
                except Exception:  # redrawn between the find and the read
                    return False
            _wait(shown, timeout_s=60, poll_s=0.02)
            times.append(time.perf_counter() - t0)
            time.sleep(3)
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=30)
    return times


def _up(port: int) -> bool:
    import urllib.request

    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1).status == 200
    except OSError:
        return False


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-fashion", action="store_true")
    ap.add_argument("--browser", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("NNLAB_WORKER_IDLE_S", "20")
    tmp = tempfile.mkdtemp(prefix="nnlab-bench-jobs-")
    print(f"machine: {os.cpu_count()} cores; 1-min load {os.getloadavg()[0]:.1f}; temp {tmp}")
    s = sweep_wall(tmp, args.runs)
    print(f"sweep of {s['runs']} digits MLPs x 20 epochs, --max-running 2: wall {s['wall_s']:.2f} s; ideal "
          f"{s['ideal_s']:.2f} s (their epoch_seconds / 2); wall / ideal {s['wall_s'] / s['ideal_s']:.1f}; "
          f"target <= 1.3 x ideal + 2 s = {s['target_s']:.2f} s: {'met' if s['wall_s'] <= s['target_s'] else 'MISSED'}")
    lat = start_latency(tmp, args.repeats)
    print(f"start -> first stored epoch, warm worker idle: median {statistics.median(lat['warm_s']):.3f} s "
          f"(max {max(lat['warm_s']):.3f}; target < 0.3 s); no worker: median {statistics.median(lat['cold_s']):.3f} s "
          f"(max {max(lat['cold_s']):.3f}; target < 1.5 s)")
    rec = recording_cost(tmp, args.repeats)
    share = rec["recorded_s"] / rec["plain_s"] - 1
    print(f"20-epoch digits run, 1 BLAS thread: training alone {rec['plain_s'] * 1000:.0f} ms; through run_experiment "
          f"(snapshots off) {rec['recorded_s'] * 1000:.0f} ms = +{100 * share:.1f}% (target < 10%); with snapshots "
          f"{rec['snapshots_s'] * 1000:.0f} ms = +{100 * (rec['snapshots_s'] / rec['plain_s'] - 1):.0f}%")
    if not args.skip_fashion:
        f = fashion_recorder_share(tmp)
        print(f"Fashion-MNIST MLP 784-128-10, 1 BLAS thread: epoch {f['epoch_s']:.2f} s; recorder calls "
              f"{f['recorder_s_per_epoch'] * 1000:.2f} ms per epoch = "
              f"{100 * f['recorder_s_per_epoch'] / f['epoch_s']:.3f}% (target < 1%)")
        m = worker_memory(tmp)
        print(f"worker training a Fashion-MNIST MLP: peak RSS {m['peak_rss_mb']:.0f} MB; processes per running run: "
              f"{m['processes_per_run']}")
    if args.browser:
        t = browser_click_to_epoch(tmp, args.repeats)
        print(f"dashboard, click on Start -> first epoch on the run's card: median {statistics.median(t):.2f} s "
              f"(min {min(t):.2f}, max {max(t):.2f}; the page polls every second)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
