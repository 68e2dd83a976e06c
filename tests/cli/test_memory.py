"""A model too big for the machine is refused at validation; one too big for the memory free now fails at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine.spec import ExperimentSpec, available_memory_bytes, estimate_memory_bytes, physical_memory_bytes

ROOT = Path(__file__).resolve().parents[2]


def _width_needing(target: float) -> int:
    """An MLP width on digits whose estimate is just above `target` bytes."""
    lo, hi = 1, 65536
    while lo < hi:
        mid = (lo + hi) // 2
        if estimate_memory_bytes(ExperimentSpec(hidden=(mid, mid), batch_size=1)) < target:
            lo = mid + 1
        else:
            hi = mid
    return lo


def _nnlab(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNLAB_")}
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True,
                          env=dict(env, PYTHONPATH=str(ROOT)), timeout=300)


def test_a_run_that_lacks_the_memory_now_fails_at_once_with_the_estimate(tmp_path):
    physical, available = physical_memory_bytes(), available_memory_bytes()
    if physical is None or available is None or physical - available < 0.2 * 2**30:
        pytest.skip("needs /proc/meminfo and some memory in use, to fit a model between free and total memory")
    width = _width_needing(available + (physical - available) / 2)
    db = f"sqlite:///{tmp_path / 'nnlab.db'}"
    proc = _nnlab("train", "--hidden", f"{width},{width}", "--batch-size", "1", "--epochs", "1", "--quiet",
                  "--no-snapshots", "--json", "--db", db)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert proc.returncode == 1 and out["status"] == "failed"
    assert "MemoryError: this run needs about" in out["error"] and "GB" in out["error"]
    shown = json.loads(_nnlab("show", str(out["run_id"]), "--json", "--db", db).stdout)
    assert shown["epochs_done"] == 0 and "needs about" in shown["error"]
