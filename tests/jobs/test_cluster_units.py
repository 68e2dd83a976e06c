"""The pieces of the scale-out path that need no workers: claims without a global cap, the worker
column, queue positions, crash marks on another host, masked URLs, the CLI's refusals, and the check
that tells the page whether the broker answers (a real redis-server)."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

from sqlalchemy import update

from storage.db import mask_url
from jobs.queue import enqueue
from storage import reads, writes
from storage.db import open_db, write_tx
from storage.models import Run, utcnow

SPEC = {"dataset": "digits", "hidden": "16", "epochs": 2, "snapshots": False}


def test_a_worker_claims_without_a_global_cap_and_is_recorded(db_url):
    db = open_db(db_url)
    ids = enqueue([{**SPEC, "seed": s} for s in range(3)], db_url)
    claimed = [writes.claim_next_run(db, max_running=None, pid=1, host="h", worker=f"w{i}") for i in range(3)]
    assert claimed == ids  # oldest first, three at once: only each worker's --concurrency caps it
    assert [r.worker for r in sorted(reads.list_runs(db, reap=False), key=lambda r: r.id)] == ["w0", "w1", "w2"]
    assert reads.count_runs(db, status="running", worker="w1") == 1
    assert writes.claim_next_run(db, max_running=None, pid=1, host="h") is None  # the queue is empty


def test_queue_positions_follow_the_claim_order(db_url):
    db = open_db(db_url)
    ids = enqueue([{**SPEC, "seed": s} for s in range(4)], db_url)
    writes.claim_next_run(db, max_running=None, pid=1, host="h", worker="w")
    writes.request_cancel(db, ids[2])
    assert reads.queue_positions(db, ids) == {ids[1]: 1, ids[3]: 2}


def test_a_run_of_a_worker_on_another_host_is_crashed_after_45_s_without_a_heartbeat(db_url):
    db = open_db(db_url)
    a, b = enqueue([{**SPEC, "seed": s} for s in range(2)], db_url)
    writes.claim_next_run(db, max_running=None, pid=123, host="elsewhere", worker="w9")
    writes.claim_next_run(db, max_running=None, pid=124, host="elsewhere")  # no worker name: 10 minutes
    with write_tx(db) as conn:
        conn.execute(update(Run).values(heartbeat_at=utcnow() - timedelta(seconds=50)))
    assert writes.mark_crashed_runs(db, by="worker w2") == [a]
    error = reads.get_run(db, a).error
    assert "worker w9" in error and "Marked crashed by worker w2" in error


def test_masked_url_hides_only_the_password():
    assert mask_url("postgresql+psycopg://lab:s3cret@db:5432/nnlab") == "postgresql+psycopg://lab:***@db:5432/nnlab"
    assert mask_url("redis://:s3cret@10.0.0.5:6379/0") == "redis://:***@10.0.0.5:6379/0"
    assert mask_url("redis+socket:///tmp/redis.sock") == "redis+socket:///tmp/redis.sock"


def test_a_worker_whose_database_is_unreachable_refuses_to_start_in_one_masked_line():
    out = subprocess.run([sys.executable, "-m", "cli", "worker", "--db",
                          "postgresql+psycopg://lab:s3cret@127.0.0.1:1/nnlab", "--broker", "redis://127.0.0.1:1/0"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("nnlab worker: error: database")
    assert "s3cret" not in out.stderr + out.stdout and "lab:***@" in lines[0]


def test_serve_celery_is_gone_and_points_to_broker():
    out = subprocess.run([sys.executable, "-m", "cli", "serve", "--celery"], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 2 and "--broker" in out.stderr


def test_the_broker_check_answers_none_while_redis_runs_and_says_why_once_it_is_gone(tmp_path):
    from jobs.cluster import broker_problem
    from tests.jobs.cluster_procs import Redis

    redis = Redis(tmp_path)
    redis.start()
    try:
        assert broker_problem(redis.url) is None
    finally:
        redis.kill()
    problem = broker_problem(redis.url, timeout_s=0.5)
    assert problem and "\n" not in problem
