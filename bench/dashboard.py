"""The dashboard on a 10,000-run database: callback server time, and time to content in a browser.

    python bench/dashboard.py [--db PATH|URL]            (default: the file `bench/storage.py --keep` leaves)
    python bench/dashboard.py --browser [--db PATH]     time to content of every page in headless Chromium

Without --browser, times the callback bodies the pages run (the same functions, without the HTTP round
trip): the Runs page's grid data, Compare with 200 runs selected, and Compare grouped by a hyperparameter
over 1,000 runs. Prints the median of 5 after a warm-up, with the figure and JSON payload sizes.

With --browser, starts the dashboard on the database in a child process, opens each page in a warm
headless Chromium (every page loaded once first) and prints the time from the navigation to the moment
its content is on screen (the condition each row names), median of 5 (--repeat). With --baseline DIR (a
checkout of another version, e.g. `git archive main | tar -x -C DIR`), serves that version too and
alternates the loads between the two, so that before and after meet the same load on a shared machine:

    python bench/dashboard.py --browser --only "compare 200 runs" --baseline /tmp/main-copy --repeat 10
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
    parser.add_argument("--browser", action="store_true", help="time to content of each page in Chromium")
    parser.add_argument("--port", type=int, default=8077)
    parser.add_argument("--only", nargs="*", help="with --browser: only these pages (names as printed)")
    parser.add_argument("--baseline", help="with --browser: a checkout of another version, timed alternately")
    parser.add_argument("--repeat", type=int, default=5, help="with --browser: loads per page (and version)")
    args = parser.parse_args()
    url = args.db if "://" in args.db else f"sqlite:///{args.db}"  # a file, or any URL (PostgreSQL)
    if "://" not in args.db and not os.path.exists(args.db):
        sys.exit(f"{args.db} is missing: run `python bench/storage.py --db {args.db} --keep` first")
    if args.browser:
        browser_main(args)
        return

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

    from storage.db import mask_url

    print(f"dashboard callbacks on {mask_url(url)} ({total} runs); median of 5 after a warm-up, 1 process")
    print(f"{'callback':<30} {'ms':>8} {'goal':>6} {'payload KB':>11}  note")
    for name, ms, kb, note in rows:
        goal = GOALS_MS.get(name)
        mark = "" if goal is None else ("ok" if ms < goal else "MISSED")
        print(f"{name:<30} {ms:8.1f} {goal or '':>6} {kb:11.1f}  {note} {mark}")


# Page -> (path, [(milestone, JavaScript true once that content is on screen)]).
_GRAPH = "(s => {{ const g = document.querySelector(s + ' .js-plotly-plot');" \
         " return !!(g && g._fullData && g._fullData.length && g._fullData.some(t => t.visible !== false)); }})"
_IDLE = "!document.querySelector('[data-dash-is-loading=\"true\"]')"
_CONTROLS = ("document.querySelectorAll('#compare-runs .dash-dropdown-value-item, #compare-runs "
             ".dash-dropdown-value-count').length > 0 && document.querySelector('#compare-metric "
             ".dash-dropdown-value') !== null")
_COMPARE = [("controls", _CONTROLS), ("curves", _GRAPH + "('#compare-curves')"),
            ("whole page", _GRAPH + "('#compare-curves') && " + _GRAPH + "('#compare-parcoords') && "
             + _GRAPH + "('#compare-scatter') && document.querySelector('#compare-diff > *') !== null && "
             + _CONTROLS + " && " + _IDLE)]
_PAGES = (
    ("launch", "/", [("form", "document.querySelector('#launch-start') !== null"
                      " && document.querySelector('#launch-family input:checked') !== null")]),
    ("runs", "/runs", [("first rows + count", "document.querySelectorAll('.ag-center-cols-container .ag-row"
                        " .ag-cell[col-id=\"model\"]:not(:empty)').length > 10 && /[0-9] runs/.test("
                        "document.querySelector('#runs-count').textContent)")]),
    ("run", "/run/{first}", [("header + curves", "/Run #/.test(document.querySelector('#run-header')"
                              ".textContent) && " + _GRAPH + "('#run-curves')")]),
    ("query", "/query", [("editor + examples", "document.querySelector('#query-text') !== null && "
                          "document.querySelector('#query-run') !== null")]),
    ("compare 2 runs", "/compare?runs={runs2}", _COMPARE),
    ("compare 200 runs", "/compare?runs={runs200}", _COMPARE),
    ("compare 200 runs by optimizer", "/compare?runs={runs200}&group=optimizer", _COMPARE),
)


# Time-to-content goals (ms, quiet machine): every page but Compare under a second; Compare with 200 runs
# shows its curves within 1.5 s and everything within 2 s.
BROWSER_GOALS_MS = {"launch": 1000, "runs": 1000, "run": 1000, "query": 1000, "compare 200 runs curves": 1500,
                    "compare 200 runs whole page": 2000}


def _serve(db: str, port: int, cache: str, root: str | None = None):
    import subprocess

    code = ("from dashboard.serve import serve; import sys; "
            f"serve('sqlite:///{db}', port={port}, cache_dir={cache!r})")
    root = root or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {**os.environ, "NNLAB_WORKER_IDLE_S": "20"}  # the worker the server prestarts leaves soon after
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=root, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    import urllib.request

    for _ in range(300):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_dash-layout", timeout=1)
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    sys.exit("the dashboard did not start")


def time_to_content(driver, url: str, milestones, timeout: float = 60.0) -> list[float]:
    """Seconds from navigating to `url` until each milestone's condition (JavaScript) first holds."""
    driver.get("about:blank")
    found: list[float | None] = [None] * len(milestones)
    t0 = time.perf_counter()
    driver.get(url)
    while None in found and time.perf_counter() - t0 < timeout:
        for i, (_name, cond) in enumerate(milestones):
            if found[i] is None and driver.execute_script(f"try {{ return !!({cond}); }} catch (e) {{ return false; }}"):
                found[i] = time.perf_counter() - t0
        time.sleep(0.01)
    return [float("nan") if f is None else f for f in found]


def browser_main(args) -> None:
    import tempfile

    from scripts.screenshots import driver as chromium
    from storage import reads
    from storage.db import open_db

    engine = open_db(f"sqlite:///{args.db}")
    total = reads.count_runs(engine)
    ids = [r.id for r in reads.list_runs(engine, limit=200, sort="id", descending=False)]
    fmt = {"first": ids[0], "runs2": ",".join(map(str, ids[:2])), "runs200": ",".join(map(str, ids))}
    versions = {"now": (_serve(args.db, args.port, tempfile.mkdtemp(prefix="nnlab-bench-cache-")), args.port)}
    if args.baseline:
        versions = {"before": (_serve(args.db, args.port + 1, tempfile.mkdtemp(prefix="nnlab-bench-cache-"),
                                      os.path.abspath(args.baseline)), args.port + 1), **versions}
    d = chromium(1400, 1000)
    try:
        pages = [p for p in _PAGES if not args.only or p[0] in args.only]
        for _name, path, milestones in pages:  # warm the browser and the servers
            for _proc, port in versions.values():
                time_to_content(d, f"http://127.0.0.1:{port}" + path.format(**fmt), milestones)
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"time to content in headless Chromium, {total} runs in {args.db}; median of {args.repeat}, warm "
              f"browser{', versions alternating' if args.baseline else ''}; load average {load} on "
              f"{os.cpu_count()} cores")
        cols = "".join(f" {v + ' ms':>10} {'min':>6} {'max':>6}" for v in versions)
        print(f"{'page':<32} {'content':<20}{cols} {'goal':>6}")
        for name, path, milestones in pages:
            times = {v: [] for v in versions}
            for i in range(args.repeat):
                for v in (list(versions) if i % 2 == 0 else list(versions)[::-1]):
                    url = f"http://127.0.0.1:{versions[v][1]}" + path.format(**fmt)
                    times[v].append(time_to_content(d, url, milestones))
            for j, (what, _cond) in enumerate(milestones):
                cells = ""
                for v in versions:
                    ms = [t[j] * 1000 for t in times[v]]
                    cells += f" {statistics.median(ms):10.0f} {min(ms):6.0f} {max(ms):6.0f}"
                goal = BROWSER_GOALS_MS.get(name, BROWSER_GOALS_MS.get(f"{name} {what}", ""))
                print(f"{name:<32} {what:<20}{cells} {goal:>6}")
        print(f"load average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    finally:
        d.quit()
        for proc, _port in versions.values():
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
