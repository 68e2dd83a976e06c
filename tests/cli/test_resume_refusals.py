"""`nnlab resume` and `nnlab fork` refuse what they cannot do exactly: exit 2, one line, nothing changed."""

from __future__ import annotations

import json
import os
import socket

import pytest
from sqlalchemy import update

from jobs.run import run_experiment
from storage import reads
from storage.db import open_db, write_tx
from storage.models import Checkpoint, Run
from tests.cli.test_cli import nnlab

SPEC = {"dataset": "digits", "hidden": "16", "epochs": 4, "snapshots": False}


@pytest.fixture(autouse=True)
def _checkpoints_from_the_first_epoch(monkeypatch):
    """These small runs (trained in this process) checkpoint every epoch, as longer runs do after their first
    quarter second: the refusals below are about runs that have checkpoints."""
    monkeypatch.setattr("jobs.recorder.CHECKPOINT_AFTER_S", 0.0)


def _run(db_url, **changes) -> int:
    return run_experiment({**SPEC, **changes}, db_url).run_id


def _set(db_url, run_id, **values) -> None:
    with write_tx(open_db(db_url)) as conn:
        conn.execute(update(Run).where(Run.id == run_id).values(**values))


def _refused(proc, *words) -> str:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = proc.stderr.strip()
    assert len(line.splitlines()) == 1 and all(w in line for w in words), line
    return line


def _snapshot(db_url, run_id):
    db = open_db(db_url)
    run = reads.get_run(db, run_id)
    return run.status, run.epochs_done, reads.get_metric_history(db, run_id)


def test_a_run_whose_process_still_exists_is_not_resumed(db_url):
    run_id = _run(db_url)
    _set(db_url, run_id, status="running", pid=os.getpid(), host=socket.gethostname(), ended_at=None)
    before = _snapshot(db_url, run_id)
    _refused(nnlab("resume", str(run_id), "--db", db_url), "may still be training", f"nnlab cancel {run_id}")
    assert _snapshot(db_url, run_id) == before


def test_a_completed_run_needs_more_epochs_and_an_annealing_schedule_cannot_be_extended(db_url):
    run_id = _run(db_url)
    _refused(nnlab("resume", str(run_id), "--db", db_url), "--epochs")
    cosine = _run(db_url, schedule="cosine")
    before = _snapshot(db_url, cosine)
    _refused(nnlab("resume", str(cosine), "--epochs", "8", "--db", db_url), "schedule", "fork")
    assert _snapshot(db_url, cosine) == before


def test_a_missing_or_unreadable_checkpoint_is_refused_and_nothing_changes(db_url):
    run_id = _run(db_url)
    _set(db_url, run_id, status="cancelled")
    with write_tx(open_db(db_url)) as conn:
        conn.execute(update(Checkpoint).where(Checkpoint.run_id == run_id).values(data=b"PK\x03\x04broken"))
    before = _snapshot(db_url, run_id)
    _refused(nnlab("resume", str(run_id), "--db", db_url), "cannot be read", "truncated checkpoint")
    assert _snapshot(db_url, run_id) == before
    from jobs.run import create_queued_run

    never = create_queued_run(SPEC, db_url)
    _set(db_url, never, status="failed")
    _refused(nnlab("resume", str(never), "--db", db_url), "no checkpoint")
    _refused(nnlab("resume", "999", "--db", db_url), "no run 999")


def test_another_engine_version_is_refused_unless_forced(db_url):
    run_id = _run(db_url)
    _set(db_url, run_id, status="crashed", engine_version="0.0.1")
    _refused(nnlab("resume", str(run_id), "--db", db_url), "engine 0.0.1", "--force")
    _refused(nnlab("fork", str(run_id), "--at", "2", "--db", db_url), "engine 0.0.1", "--force")
    proc = nnlab("resume", str(run_id), "--force", "--db", db_url, "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])["status"] == "completed"


@pytest.mark.parametrize("knob", ["hidden=32", "dataset=xor", "activation=tanh", "model=cnn", "subset=100"])
def test_a_fork_that_changes_the_architecture_or_the_data_is_refused_naming_the_knob(db_url, knob):
    run_id = _run(db_url)
    _refused(nnlab("fork", str(run_id), "--at", "2", "--set", knob, "--db", db_url), knob.split("=")[0] + ":")
    assert reads.count_runs(open_db(db_url)) == 1


def test_a_fork_needs_an_epoch_the_parent_finished_and_epochs_past_it(db_url):
    run_id = _run(db_url)
    _refused(nnlab("fork", str(run_id), "--at", "9", "--db", db_url), "--at", "1 to 4")
    _refused(nnlab("fork", str(run_id), "--at", "3", "--set", "epochs=3", "--db", db_url), "epochs:")
    _refused(nnlab("fork", str(run_id), "--at", "3", "--set", "lr=-1", "--db", db_url), "lr:")
    assert reads.count_runs(open_db(db_url)) == 1


def test_a_completed_run_is_extended_with_its_history_kept(db_url):
    run_id = _run(db_url)
    db = open_db(db_url)
    before = reads.get_metric_history(db, run_id)
    proc = nnlab("resume", str(run_id), "--epochs", "6", "--db", db_url, "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    run = reads.get_run(db, run_id)
    assert (run.status, run.epochs_done, run.epochs_planned, run.params["epochs"]) == ("completed", 6, 6, 6)
    after = reads.get_metric_history(db, run_id)
    assert after["val_loss"][:4] == before["val_loss"]
    assert [s for s, _ in after["test_loss"]] == [6]  # the test metrics are the extended run's
