"""Resume and fork on the real job path: a training process killed with SIGKILL and resumed ends with
the same metrics, bit for bit, as the run trained without interruption; a fork with nothing changed
reproduces its parent's later epochs, also from a thinned checkpoint or from the start of a run too short to
have taken one (the parent is replayed up to the fork epoch). On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from storage import reads
from storage.checkpoints import list_checkpoints
from storage.db import open_db
from storage.snapshots import list_snapshots
from tests.storage.conftest import fresh_postgres_db, postgres_url  # noqa: F401 (the session's server)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Slow enough per epoch (about 0.1 s) that the process can be killed mid-run.
SPEC = ["--dataset", "digits", "--hidden", "128,128", "--batch-size", "8", "--epochs", "14", "--no-snapshots"]
WITH_SNAPSHOTS = [*SPEC[:-1], "--snapshots"]
# Epochs of about 0.1 s: the first checkpoint comes within the first few epochs (after CHECKPOINT_AFTER_S).
WIDE = ["--dataset", "digits", "--hidden", "512,512", "--batch-size", "8", "--epochs", "14", "--no-snapshots"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nnlab.db'}"
    return fresh_postgres_db(request.getfixturevalue("postgres_url"))


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=ROOT)


def nnlab(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=_env(),
                          cwd=ROOT, timeout=300)


def _history(db, run_id: int) -> dict:
    history = reads.get_metric_history(db, run_id)
    history.pop("epoch_seconds")  # wall time: the one metric that is never reproducible
    return history


def _train_and_kill(url: str, at_epoch: int, spec: list[str]) -> int:
    """Start `nnlab train`, SIGKILL it once `at_epoch` epochs are committed; returns the run id."""
    proc = subprocess.Popen([sys.executable, "-m", "cli", "train", "--db", url, *spec, "--quiet"], env=_env(),
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = open_db(url)
    deadline = time.monotonic() + 120
    try:
        while True:
            assert time.monotonic() < deadline and proc.poll() is None, "the run ended before it could be killed"
            runs = reads.run_progress(db, active=True)
            if runs and runs[0].epochs_done >= at_epoch:
                break
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    run = reads.get_run(db, runs[0].id)
    assert run.status == "running" and at_epoch <= run.epochs_done < 14  # killed mid-run, unfinished
    return run.id


@pytest.mark.parametrize("at_epoch, spec", [(2, SPEC), (7, WITH_SNAPSHOTS)], ids=["epoch2", "epoch7-snapshots"])
def test_a_run_killed_with_sigkill_and_resumed_ends_bit_identical_to_an_uninterrupted_run(url, at_epoch, spec):
    killed = _train_and_kill(url, at_epoch, spec)
    db = open_db(url)
    assert reads.get_run(db, killed).threads >= 1
    proc = nnlab("resume", str(killed), "--db", url, "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (out["run_id"], out["status"], out["parent_run_id"], out["fork_epoch"]) == (killed, "completed", None, None)
    reference = json.loads(nnlab("train", "--db", url, *spec, "--quiet", "--json").stdout.strip().splitlines()[-1])
    assert _history(db, killed) == _history(db, reference["run_id"])
    for key in ("val_loss", "val_accuracy", "test_loss", "test_accuracy", "train_loss"):
        assert out[key] == reference[key]
    run = reads.get_run(db, killed)
    assert (run.status, run.epochs_done, run.error) == ("completed", 14, None)
    assert list_checkpoints(db, killed)[-1].epoch == 14
    if spec is WITH_SNAPSHOTS:  # the Inside views go on after the resume, up to the last epoch
        epochs = {s["epoch"] for s in list_snapshots(db, killed) if s["kind"] == "stats"}
        assert 14 in epochs and any(e <= at_epoch for e in epochs)


def test_a_fork_with_nothing_changed_reproduces_its_parent_also_from_a_thinned_checkpoint(url):
    proc = nnlab("train", "--db", url, *WIDE, "--checkpoint-budget-mb", "14", "--quiet", "--json")
    parent = json.loads(proc.stdout.strip().splitlines()[-1])["run_id"]
    db = open_db(url)
    kept = [c.epoch for c in list_checkpoints(db, parent)]
    assert kept[0] < 13 and kept[-1] == 14 and len(kept) < 14  # thinned: 14 MB hold a few of 3.2 MB
    at = next(e for e in range(kept[0] + 1, 14) if e not in kept)  # the fork replays from an earlier one
    proc = nnlab("fork", str(parent), "--at", str(at), "--db", url, "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (out["status"], out["parent_run_id"], out["fork_epoch"]) == ("completed", parent, at)
    assert _history(db, out["run_id"]) == _history(db, parent)
    fork = reads.get_run(db, out["run_id"])
    assert (fork.parent_run_id, fork.fork_epoch, fork.epochs_done) == (parent, at, 14)
    assert fork.threads == reads.get_run(db, parent).threads


def test_a_run_too_short_for_a_checkpoint_is_forked_and_resumed_from_its_start_bit_for_bit(db_url, monkeypatch):
    """A run shorter than CHECKPOINT_AFTER_S (60 s here, so that no load makes this 6-epoch MLP longer)
    takes no checkpoint, a fork of it replays it from the start, and a resume starts it over; both end as
    the uninterrupted run does."""
    from jobs.lineage import prepare_fork, prepare_resume, resumes_from
    from sqlalchemy import update

    from jobs.run import run_experiment
    from storage.db import write_tx
    from storage.models import Run

    monkeypatch.setattr("jobs.recorder.CHECKPOINT_AFTER_S", 60.0)
    spec = {"dataset": "digits", "hidden": "16", "epochs": 6, "snapshots": False}
    db = open_db(db_url)
    parent = run_experiment(spec, db_url).run_id
    assert list_checkpoints(db, parent) == []
    fork = prepare_fork(db, parent, 3, {})
    assert run_experiment(spec, db_url, run_id=fork).status == "completed"
    assert _history(db, fork) == _history(db, parent)
    with write_tx(db) as conn:
        conn.execute(update(Run).where(Run.id == parent).values(status="crashed"))
    assert prepare_resume(db, parent) == 0
    assert "starts over" in resumes_from(parent, 0)
    assert reads.get_run(db, parent).epochs_done == 0
    assert run_experiment(spec, db_url, run_id=parent).status == "completed"
    assert _history(db, parent) == _history(db, fork)


def test_a_fork_with_changed_knobs_keeps_the_parents_epochs_and_trains_on_differently(url):
    parent = json.loads(nnlab("train", "--db", url, *SPEC, "--quiet", "--json").stdout.strip().splitlines()[-1])
    proc = nnlab("fork", str(parent["run_id"]), "--at", "5", "--set", "lr=0.0001", "--set", "dropout=0.3",
                 "--set", "epochs=10", "--db", url, "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    db = open_db(url)
    parent_h, fork_h = _history(db, parent["run_id"]), _history(db, out["run_id"])
    assert [p for p in fork_h["val_loss"] if p[0] <= 5] == parent_h["val_loss"][:5]
    assert fork_h["lr"][5:] == [(e, 0.0001) for e in range(6, 11)]
    assert fork_h["val_loss"][5] != parent_h["val_loss"][5]
    assert reads.get_run(db, out["run_id"]).epochs_planned == 10


def test_a_crashed_run_is_resumed_automatically_once_and_trains_to_the_end(url):
    """What a scaled-out worker's watch does with the runs it marks crashed (jobs.cluster.resume_crashed)."""
    from jobs.cluster import AUTO_RESUMED, resume_crashed
    from jobs.worker import serve_queue
    from storage import writes

    killed = _train_and_kill(url, 2, SPEC)
    db = open_db(url)
    assert writes.mark_crashed_runs(db, stale_after_s=0.0) == [killed]
    assert resume_crashed(db, [killed]) == [killed]
    run = reads.get_run(db, killed)
    assert run.status == "queued" and AUTO_RESUMED in run.tags  # the resumption is recorded on the run
    serve_queue(url, max_running=1, idle_s=0.5)  # a warm worker takes it, as on any worker
    run = reads.get_run(db, killed)
    assert (run.status, run.epochs_done) == ("completed", 14)
    with open_db(url).begin() as conn:  # a second crash is left alone: automatic resumption happens once
        conn.exec_driver_sql(f"UPDATE runs SET status = 'crashed' WHERE id = {killed}")
    assert resume_crashed(db, [killed]) == [] and reads.get_run(db, killed).status == "crashed"
