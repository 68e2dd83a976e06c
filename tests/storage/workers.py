"""Small programs the concurrency tests run in separate processes: `python -m tests.storage.workers MODE ...`.

Each prints one JSON line with its result on stdout; any exception is printed and exits non-zero.
No sleeps in the work: writers write as fast as they can, the poller reads until the writers are done.
Given a start file, writers wait (polling for the file: it is another process's only signal) for the
poller to create it after its first poll, so the reads overlap the writes however slowly the
poller's process starts.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
import traceback
from pathlib import Path

METRIC_KEYS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr", "epoch_seconds", "grad_norm",
               "extra")


def epoch_metrics(step: int) -> dict[str, float]:
    """Deterministic metrics for one step (values checked back by the tests)."""
    return {k: step + i / 10 for i, k in enumerate(METRIC_KEYS)}


def _wait_for(path: str | None, timeout_s: float = 120.0) -> None:
    deadline = time.monotonic() + timeout_s
    while path and not Path(path).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} never appeared")
        time.sleep(0.01)


def writer(url: str, epochs: int, name: str, start_file: str | None = None) -> dict:
    """Create a run, (wait for the start file,) log `epochs` epochs of 8 metrics, finish it."""
    from storage import create_run, finish_run, log_epoch, open_db, start_run

    engine = open_db(url)
    run_id = create_run(engine, {"name": name}, {"writer": name}, name=name, epochs_planned=epochs)
    start_run(engine, run_id, pid=os.getpid(), host=socket.gethostname())
    _wait_for(start_file)
    for step in range(1, epochs + 1):
        log_epoch(engine, run_id, step, epoch_metrics(step))
    finish_run(engine, run_id, "completed")
    return {"run_id": run_id}


def poller(url: str, writers: int, start_file: str | None = None) -> dict:
    """List runs and read histories until `writers` runs are completed; counts its polls. Creates
    `start_file` after the first poll."""
    from storage import count_runs, get_metric_histories, list_runs, open_db

    engine = open_db(url)
    polls = 0
    while count_runs(engine, status="completed") < writers:
        runs = list_runs(engine, sort="metric:val_loss:best")
        get_metric_histories(engine, [r.id for r in runs], ["val_loss", "val_accuracy"])
        polls += 1
        if start_file and polls == 1:
            Path(start_file).touch()
        if polls > 200_000:
            raise RuntimeError("writers never finished")
    return {"polls": polls}


def killable(url: str, run_id: int) -> dict:
    """Train forever through RunRecorder (batched commits), printing after each epoch the last step
    committed, until killed."""
    from engine.train import EpochRecord
    from jobs.recorder import RunRecorder
    from storage import open_db, start_run

    engine = open_db(url)
    start_run(engine, run_id, pid=os.getpid(), host=socket.gethostname())
    recorder = RunRecorder(engine, run_id, heartbeat_every_s=0.05)
    recorder.on_train_start({"epochs": 10**6})
    step = 0
    while True:
        step += 1
        m = epoch_metrics(step)
        recorder.on_epoch_end(EpochRecord(step, m["train_loss"], m["val_loss"], m, m["lr"], 0.0))
        print(json.dumps({"committed": recorder.committed}), flush=True)


def main(argv: list[str]) -> int:
    mode, url, *rest = argv
    try:
        if mode == "writer":
            result = writer(url, int(rest[0]), *rest[1:3])
        elif mode == "poller":
            result = poller(url, int(rest[0]), *rest[1:2])
        elif mode == "killable":
            result = killable(url, int(rest[0]))
        else:
            raise ValueError(mode)
    except BaseException:
        traceback.print_exc()
        return 1
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
