"""Server time of the dashboard's heaviest callbacks on a 10,000-run database.

    python bench/dashboard.py [--db PATH|URL]  (default: the file `bench/storage.py --keep` leaves)

Times the callback bodies the pages run (the same functions, without the HTTP round trip): the Runs
page's grid data, Compare with 200 runs selected, and Compare grouped by a hyperparameter over 1,000
runs. Prints the median of 5 after a warm-up, with the figure and JSON payload sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

GOALS_MS = {"runs grid data": 150, "compare 200 runs": 500, "compare grouped 1,000 runs": 500}


def timed(fn, repeats: int = 5):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def payload_kb(obj) -> float:
    import plotly

    return len(json.dumps(obj, cls=plotly.utils.PlotlyJSONEncoder)) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default="/tmp/nnlab-bench-10k.db")
    parser.add_argument("--group", default="optimizer", help="hyperparameter to group by")
    args = parser.parse_args()
    url = args.db if "://" in args.db else f"sqlite:///{args.db}"  # a file, or any URL (PostgreSQL)
    if "://" not in args.db and not os.path.exists(args.db):
        sys.exit(f"{args.db} is missing: run `python bench/storage.py --db {args.db} --keep` first")

    from callbacks.compare import build_comparison
    from callbacks.runs import runs_block, runs_fingerprint
    from storage import reads
    from storage.db import open_db

    engine = open_db(url)
    total = reads.count_runs(engine)
    ids = [r.id for r in reads.list_runs(engine, limit=1000, sort="id", descending=False)]
    rows = []
    first = {"startRow": 0, "endRow": 100, "sortModel": [], "filterModel": {}}
    ms, out = timed(lambda: runs_block(engine, first))
    rows.append(("runs grid data", ms, payload_kb(out), f"first block of 100 of {out['rowCount']}"))
    by_acc = {**first, "sortModel": [{"colId": "best_val_accuracy", "sort": "desc"}]}
    ms, out = timed(lambda: runs_block(engine, by_acc))
    rows.append(("runs grid, by best val_acc", ms, payload_kb(out), "sorted in SQL"))
    deep = {"startRow": 9900, "endRow": 10000, "sortModel": [{"colId": "param_lr", "sort": "asc"}],
            "filterModel": {}}
    ms, out = timed(lambda: runs_block(engine, deep))
    rows.append(("runs grid, last block by lr", ms, payload_kb(out), "scrolled to the end, param sort"))
    ms, _ = timed(lambda: runs_fingerprint(engine))
    rows.append(("runs grid live poll", ms, 0.0, "fingerprint every 2 s"))
    ms, out = timed(lambda: build_comparison(engine, ids[:200], metric="accuracy", splits=("train", "val")))
    rows.append(("compare 200 runs", ms, payload_kb(out[0]), f"{len(out[0].data)} traces"))
    ms, out = timed(lambda: build_comparison(engine, ids, metric="accuracy", splits=("val",), group=args.group))
    rows.append(("compare grouped 1,000 runs", ms, payload_kb(out[0]), f"group by {args.group}"))

    from jobs.cluster import masked_url

    print(f"dashboard callbacks on {masked_url(url)} ({total} runs); median of 5 after a warm-up, 1 process")
    print(f"{'callback':<30} {'ms':>8} {'goal':>6} {'payload KB':>11}  note")
    for name, ms, kb, note in rows:
        goal = GOALS_MS.get(name)
        mark = "" if goal is None else ("ok" if ms < goal else "MISSED")
        print(f"{name:<30} {ms:8.1f} {goal or '':>6} {kb:11.1f}  {note} {mark}")


if __name__ == "__main__":
    main()
