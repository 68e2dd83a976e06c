"""`nnlab sweep` and `nnlab cancel` as a user runs them: real processes, the warm workers, a real SQLite file."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from storage import reads
from storage.db import open_db

from .test_cli import ROOT, nnlab

SWEEP = ("sweep", "--dataset", "digits", "--model", "mlp", "--hidden", "16", "--epochs", "3", "--no-snapshots")


def test_a_sweep_trains_its_grid_on_the_workers_and_prints_one_json_object(db_url):
    proc = nnlab(*SWEEP, "--grid", "optimizer=sgd,adam", "--grid", "seed=0..1", "--max-running", "2",
                 "--experiment", "opt", "--db", db_url, "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["experiment"] == "opt" and len(out["run_ids"]) == 4
    assert [r["run_id"] for r in out["runs"]] == out["run_ids"]
    assert all(r["status"] == "completed" and r["diverged"] is False and 0 <= r["val_accuracy"] <= 1
               for r in out["runs"])
    runs = reads.list_runs(open_db(db_url), run_ids=out["run_ids"], limit=None)
    assert {(r.params["optimizer"], r.seed) for r in runs} == {("sgd", 0), ("sgd", 1), ("adam", 0), ("adam", 1)}
    assert all(r.experiment == "opt" for r in runs)
    assert 1 <= len({r.pid for r in runs}) <= 2  # trained by at most two warm workers


def test_a_bad_grid_is_refused_before_any_row_is_written(db_url):
    for grid in (["optimizer=sgd,nope"], ["lr=0.1,-1"], ["no_such_knob=1,2"], ["seed"], []):
        args = [a for g in grid for a in ("--grid", g)]
        proc = nnlab(*SWEEP, *args, "--db", db_url)
        assert proc.returncode == 2, (grid, proc.stderr)
        assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert reads.count_runs(open_db(db_url)) == 0


def test_a_taken_experiment_name_is_refused_unless_appended(db_url):
    first = nnlab(*SWEEP, "--grid", "seed=0", "--experiment", "mine", "--db", db_url)
    assert first.returncode == 0, first.stderr
    again = nnlab(*SWEEP, "--grid", "seed=1", "--experiment", "mine", "--db", db_url)
    assert again.returncode == 2 and "--append" in again.stderr
    assert reads.count_runs(open_db(db_url)) == 1
    added = nnlab(*SWEEP, "--grid", "seed=1", "--experiment", "mine", "--append", "--db", db_url)
    assert added.returncode == 0, added.stderr
    assert reads.count_runs(open_db(db_url), experiment="mine") == 2


def _ctrl_c_delivered() -> None:
    """In the child: SIGINT back to its default, as in a terminal. A shell that starts the test suite in the
    background (`make test &`) ignores SIGINT, children inherit that, and Python then never raises
    KeyboardInterrupt."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_cancels_the_sweep_and_keeps_every_finished_epoch(db_url):
    db = open_db(db_url)
    env = dict(os.environ, PYTHONPATH=ROOT)
    proc = subprocess.Popen([sys.executable, "-m", "cli", "sweep", "--dataset", "digits", "--epochs", "500",
                             "--no-snapshots", "--grid", "seed=0..3", "--max-running", "1", "--db", db_url,
                             "--json", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=ROOT, preexec_fn=_ctrl_c_delivered)
    deadline = time.monotonic() + 120
    while not any(r.epochs_done >= 2 for r in reads.list_runs(db, limit=None, reap=False)):
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read() if proc.poll() else ""
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    out = json.loads(stdout)
    statuses = [r["status"] for r in out["runs"]]
    assert statuses[0] == "cancelled" and statuses[1:] == ["cancelled"] * 3
    first = reads.get_run(db, out["run_ids"][0])
    history = reads.get_metric_history(db, first.id, ["val_loss"])["val_loss"]
    assert 2 <= first.epochs_done < 500 and [s for s, _ in history] == list(range(1, first.epochs_done + 1))
    assert all(reads.get_run(db, i).epochs_done == 0 for i in out["run_ids"][1:])  # never started


def test_cancel_stops_queued_runs_and_says_when_a_run_has_already_ended(db_url):
    from jobs.queue import enqueue
    from jobs.run import run_experiment

    done = run_experiment({"dataset": "xor", "epochs": 2}, db_url).run_id
    queued = enqueue([{"dataset": "xor", "epochs": 2, "seed": s} for s in (1, 2)], db_url, experiment="later")
    proc = nnlab("cancel", str(queued[0]), str(done), "--db", db_url)
    assert proc.returncode == 0, proc.stderr
    assert f"run {queued[0]}: cancelled" in proc.stdout
    assert f"run {done}: already completed; nothing to cancel" in proc.stdout
    by_experiment = nnlab("cancel", "--experiment", "later", "--db", db_url)
    assert by_experiment.returncode == 0 and f"run {queued[1]}: cancelled" in by_experiment.stdout
    db = open_db(db_url)
    assert [reads.get_run(db, i).status for i in queued] == ["cancelled", "cancelled"]
    assert reads.get_run(db, done).status == "completed"
    for bad in (["999"], ["--experiment", "nope"], []):
        proc = nnlab("cancel", *bad, "--db", db_url)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, (bad, proc.stderr)
