"""Concurrent browser users against `nnlab serve` (waitress): what a Runs page visit costs each of them.

    python bench/serve_load.py [--db URL|PATH] [--users 1,10,30] [--seconds 20] [--threads 8]

Starts `nnlab serve` (waitress, --threads request threads) on the database and simulates users
that, each in a loop, open the Runs page as a browser does: the page's HTML, the layout, the grid's
first block of 100 rows (`runs_block`) and the live poll (`watch_runs`), then wait 2 s (the poll
interval) before the next visit. Prints per-request latency (median, 95th percentile) and requests
served per second for each number of users. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

BLOCK = {"output": "runs-grid.getRowsResponse", "outputs": {"id": "runs-grid", "property": "getRowsResponse"},
         "inputs": [{"id": "runs-grid", "property": "getRowsRequest",
                     "value": {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}}],
         "state": [{"id": "runs-search", "property": "value", "value": None}],
         "changedPropIds": ["runs-grid.getRowsRequest"]}
POLL = {"output": "..runs-grid.columnDefs...runs-fingerprint.data...runs-count.children..",
        "outputs": [{"id": "runs-grid", "property": "columnDefs"}, {"id": "runs-fingerprint", "property": "data"},
                    {"id": "runs-count", "property": "children"}],
        "inputs": [{"id": "runs-interval", "property": "n_intervals", "value": 1},
                   {"id": "runs-search", "property": "value", "value": None}],
        "state": [{"id": "runs-fingerprint", "property": "data", "value": None}],
        "changedPropIds": ["runs-interval.n_intervals"]}


def request(base: str, what: str) -> float:
    t0 = time.perf_counter()
    if what in ("page", "layout"):
        urllib.request.urlopen(base + ("/runs" if what == "page" else "/_dash-layout"), timeout=120).read()
    else:
        body = json.dumps(BLOCK if what == "block" else POLL).encode()
        req = urllib.request.Request(base + "/_dash-update-component", data=body,
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=120).read()
    return time.perf_counter() - t0


def load(base: str, users: int, seconds: float) -> dict:
    times: dict[str, list[float]] = {"page": [], "layout": [], "block": [], "poll": []}
    lock, stop = threading.Lock(), time.monotonic() + seconds

    def user():
        while time.monotonic() < stop:
            for what in times:
                t = request(base, what)
                with lock:
                    times[what].append(t)
            time.sleep(2.0)

    threads = [threading.Thread(target=user) for _ in range(users)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"wall": wall, "times": times}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default="/tmp/nnlab-bench-10k.db")
    ap.add_argument("--users", default="1,10,30")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--port", type=int, default=8097)
    args = ap.parse_args(argv)
    db = args.db if "://" in args.db else f"sqlite:///{args.db}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NNLAB_WORKER_IDLE_S": "5"}
    env.pop("NNLAB_BROKER", None)
    server = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--db", db, "--port", str(args.port),
                               "--threads", str(args.threads), "--cache-dir", f"/tmp/nnlab-load-cache-{os.getpid()}"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{args.port}"
    try:
        banner = server.stdout.readline().strip()
        for _ in range(300):
            try:
                request(base, "layout")
                break
            except OSError:
                time.sleep(0.2)
        request(base, "block")  # warm-up
        print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {os.getloadavg()[0]:.1f}: {banner}")
        print(f"{'users':>5} {'req/s':>6}  " + "  ".join(f"{w + ' ms (p50/p95)':>22}" for w in
                                                       ("page", "layout", "block", "poll")))
        for users in (int(u) for u in args.users.split(",")):
            r = load(base, users, args.seconds)
            n = sum(len(v) for v in r["times"].values())
            cells = []
            for w, v in r["times"].items():
                v = sorted(v)
                cells.append(f"{1000 * statistics.median(v):10.0f} / {1000 * v[int(0.95 * (len(v) - 1))]:8.0f}")
            print(f"{users:>5} {n / r['wall']:6.1f}  " + "  ".join(f"{c:>22}" for c in cells), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
