"""`nnlab runs` on a full disk: the listing works even though marking crashed runs cannot be written.

The database sits on a 2 MB tmpfs that the test fills; mounting needs root (CAP_SYS_ADMIN), so the
test skips, saying why, where the machine does not allow it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

import storage as s
from storage.db import checkpoint, close_all
from storage.models import utcnow

ROOT = Path(__file__).resolve().parents[2]


def _fill(folder: Path) -> Path:
    """Write a file until the file system has no space left; returns it."""
    filler = folder / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
                f.flush()
                os.fsync(f.fileno())
        except OSError:
            pass
    return filler


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _runs(url: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNLAB_")}
    return subprocess.run([sys.executable, "-m", "cli", "runs", "--db", url, "--format", "json"], capture_output=True,
                          text=True, env=dict(env, PYTHONPATH=str(ROOT)), timeout=120)


def test_runs_lists_on_a_full_disk_and_marks_the_crash_once_space_is_back(small_disk):
    url = f"sqlite:///{small_disk / 'nnlab.db'}"
    engine = s.open_db(url)  # stays open, as the dashboard's would: its -wal and -shm files exist
    run_id = s.create_run(engine, {}, {"lr": 0.1}, name="orphan")
    s.start_run(engine, run_id, pid=_dead_pid(), host=socket.gethostname())
    with engine.begin() as conn:  # its trainer died long ago
        conn.execute(text("UPDATE runs SET heartbeat_at = :t, started_at = :t"), {"t": utcnow() - timedelta(hours=1)})
    checkpoint(engine)  # an empty WAL: any new write needs space
    filler = _fill(small_disk)

    full = _runs(url)
    assert full.returncode == 0, full.stderr
    assert [(r["name"], r["status"]) for r in json.loads(full.stdout)] == [("orphan", "running")]
    assert "crashed runs not marked" in full.stderr and "Traceback" not in full.stderr

    filler.unlink()
    freed = _runs(url)
    assert freed.returncode == 0, freed.stderr
    assert [r["status"] for r in json.loads(freed.stdout)] == ["crashed"]


def test_a_read_only_file_system_is_refused_in_one_line(small_disk):
    url = f"sqlite:///{small_disk / 'nnlab.db'}"
    s.create_run(s.open_db(url), {}, {}, name="kept")
    close_all()
    remount = subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], capture_output=True, text=True)
    if remount.returncode != 0:
        pytest.skip(f"cannot remount the tmpfs read-only here ({remount.stderr.strip()})")
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNLAB_")}
    for command in (["train", "--dataset", "xor", "--epochs", "1", "--quiet"], ["runs"]):
        proc = subprocess.run([sys.executable, "-m", "cli", *command, "--db", url], capture_output=True, text=True,
                              env=dict(env, PYTHONPATH=str(ROOT)), timeout=120)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode == 2 and len(lines) == 1 and "--db: cannot use the database" in lines[0], proc.stderr
