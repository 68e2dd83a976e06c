"""Several processes on one database: writers, a poller, claimers, and a writer killed mid-run."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import func, select

import storage as s
from storage.models import Metric
from tests.storage.conftest import fresh_postgres_db
from tests.storage.workers import METRIC_KEYS, epoch_metrics

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 100


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.storage.workers", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_four_writers_and_a_poller_lose_nothing_and_never_see_locked(sqlite_url, tmp_path):
    # The database does not exist yet: the five processes also race to create the schema. The writers
    # log their epochs once the poller has polled once (the start file), so reads overlap the writes.
    start = str(tmp_path / "poller-started")
    procs = [_spawn("writer", sqlite_url, str(EPOCHS), f"w{i}", start) for i in range(4)]
    procs.append(_spawn("poller", sqlite_url, "4", start))
    outputs = [p.communicate(timeout=240) for p in procs]
    for p, (out, err) in zip(procs, outputs, strict=True):
        assert "database is locked" not in out + err
        assert p.returncode == 0, err
    assert json.loads(outputs[-1][0].splitlines()[-1])["polls"] >= 1
    engine = s.open_db(sqlite_url)
    runs = s.list_runs(engine)
    assert len(runs) == 4 and {r.status for r in runs} == {"completed"}
    for run in runs:
        assert run.epochs_done == EPOCHS
        history = s.get_metric_history(engine, run.id)
        assert set(history) == set(METRIC_KEYS)
        for key, points in history.items():
            assert [st for st, _ in points] == list(range(1, EPOCHS + 1))
            assert [v for _, v in points] == [epoch_metrics(st)[key] for st in range(1, EPOCHS + 1)]
    s.close_all()


def _claim_all(url: str, max_running: int, once: bool, queue) -> None:
    try:
        engine = s.open_db(url)  # a forked child gets its own engine: the cache is keyed by pid
        claimed = []
        while True:
            run_id = s.claim_next_run(engine, max_running=max_running, pid=os.getpid(), host=socket.gethostname())
            if run_id is not None:
                claimed.append(run_id)
            if run_id is None or once:
                break
        queue.put(("ok", claimed))
    except BaseException as exc:  # report instead of dying silently
        queue.put(("error", repr(exc)))


def _run_claimers(url: str, n: int, *, max_running: int, once: bool) -> list[int]:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_claim_all, args=(url, max_running, once, queue)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    errors = [r for kind, r in results if kind == "error"]
    assert errors == []
    return [rid for _, claimed in results for rid in claimed]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def queue_url(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'queue.db'}"
    else:
        url = fresh_postgres_db(request.getfixturevalue("postgres_url"))
    s.open_db(url)  # create the schema before forking
    yield url
    s.close_all()


def test_concurrent_claimers_take_every_queued_run_exactly_once(queue_url):
    engine = s.open_db(queue_url)
    queued = [s.create_run(engine, {}, {"i": i}) for i in range(16)]
    claimed = _run_claimers(queue_url, 4, max_running=1000, once=False)
    assert sorted(claimed) == sorted(queued)
    assert max(Counter(claimed).values()) == 1
    assert s.count_runs(engine, status="running") == 16


def test_concurrent_claimers_never_exceed_max_running(queue_url):
    engine = s.open_db(queue_url)
    for i in range(6):
        s.create_run(engine, {}, {"i": i})
    claimed = _run_claimers(queue_url, 4, max_running=2, once=True)
    assert len(claimed) == 2
    assert s.count_runs(engine, status="running") == 2
    assert s.count_runs(engine, status="queued") == 4


def test_claim_next_run_takes_the_oldest_queued_run(sqlite_engine):
    first, second = s.create_run(sqlite_engine, {}, {}), s.create_run(sqlite_engine, {}, {})
    s.request_cancel(sqlite_engine, first)
    third = s.create_run(sqlite_engine, {}, {})
    assert s.claim_next_run(sqlite_engine, max_running=5, pid=1, host="h") == second
    assert s.claim_next_run(sqlite_engine, max_running=5, pid=1, host="h") == third
    assert s.claim_next_run(sqlite_engine, max_running=5, pid=1, host="h") is None
    run = s.get_run(sqlite_engine, second)
    assert (run.status, run.pid, run.host) == ("running", 1, "h") and run.started_at is not None


def test_sigkilled_writer_keeps_committed_epochs_and_is_marked_crashed(sqlite_url):
    engine = s.open_db(sqlite_url)
    run_id = s.create_run(engine, {}, {}, epochs_planned=10**6)
    proc = _spawn("killable", sqlite_url, str(run_id))
    committed = 0
    try:
        for line in proc.stdout:
            committed = json.loads(line)["committed"]
            if committed >= 30:
                # Alive: a stale heartbeat alone never marks a run crashed while its process exists.
                assert s.mark_crashed_runs(engine, stale_after_s=0.0) == []
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert committed >= 30, proc.stderr.read()
    assert proc.returncode == -signal.SIGKILL

    history = s.get_metric_history(engine, run_id, ["val_loss"])["val_loss"]
    steps = [st for st, _ in history]
    assert steps[:committed] == list(range(1, committed + 1))  # every epoch reported before the kill
    assert s.get_run(engine, run_id).status == "running"
    assert s.mark_crashed_runs(engine, stale_after_s=0.0) == [run_id]
    run = s.get_run(engine, run_id)
    assert run.status == "crashed" and f"pid {proc.pid}" in run.error and run.ended_at is not None
    assert run.epochs_done >= committed
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Metric).where(Metric.run_id == run_id)) \
            == len(steps) * len(METRIC_KEYS)
    assert s.mark_crashed_runs(engine, stale_after_s=0.0) == []  # only once
    s.close_all()
