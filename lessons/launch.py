"""How a lesson or an ablation gets its runs trained: ONE injected function, `launch`.

    launch(specs: list[ExperimentSpec], db_url: str, experiment: str) -> list[int]   # run ids, in order

It must create one run per spec (in `experiment`) and return their ids at once; training happens
elsewhere, and callers wait by polling the runs table (lessons.runner.wait_for_runs).

- `launch_on_workers`: the job path. The runs are queued as one experiment and warm workers
  (jobs/worker.py, as `nnlab sweep` does) train them, up to $NNLAB_MAX_RUNNING at once. The CLI uses it.
- `launch_queued`: only queues; the dashboard uses it and kicks its job slot, which starts the workers.
- `launch_in_process`: the stopgap written before the job path existed; it trains the queued runs one
  after another in a thread of this process. Tests use it (no detached worker processes).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from engine.spec import ExperimentSpec

LaunchFn = Callable[[list[ExperimentSpec], str, str], list[int]]


def launch_queued(specs: list[ExperimentSpec], db_url: str, experiment: str) -> list[int]:
    """Queue the runs for the job path (warm workers, `python -m jobs.worker`) to train."""
    from jobs.queue import enqueue

    return enqueue(list(specs), db_url, experiment=experiment)


def _train_queued(run_ids: list[int], specs: list[ExperimentSpec], db_url: str) -> None:
    """Train each run that is still queued; a run that raises is marked failed and the next one goes on."""
    import traceback

    from jobs.run import run_experiment
    from storage import writes
    from storage.db import open_db
    from storage.events import record_events
    from storage.lessons import run_states

    db = open_db(db_url)
    for run_id, spec in zip(run_ids, specs, strict=True):
        if run_states(db, [run_id]).get(run_id, {}).get("status") != "queued":
            continue  # a job slot claimed it (or it was cancelled) meanwhile
        try:
            run_experiment(spec, db_url, run_id=run_id)
        except Exception:  # run_experiment records training errors itself; this is anything else
            writes.finish_run(db, run_id, "failed", error=traceback.format_exc())
        record_events(db, run_id)


def launch_on_workers(specs: list[ExperimentSpec], db_url: str, experiment: str) -> list[int]:
    """Queue the runs as one experiment and make sure warm workers serve the queue (the job path)."""
    from jobs.threads import default_max_running
    from jobs.worker import ensure_workers

    ids = launch_queued(specs, db_url, experiment)
    if ids:
        ensure_workers(db_url, default_max_running(), wanted=len(ids))
    return ids


def launch_in_process(specs: list[ExperimentSpec], db_url: str, experiment: str) -> list[int]:
    """Queue the runs, then train them one after another with jobs.run.run_experiment in a daemon thread
    of this process; returns the run ids at once (the stopgap from before the job path; tests use it)."""
    ids = launch_queued(specs, db_url, experiment)
    if ids:
        threading.Thread(target=_train_queued, args=(ids, list(specs), db_url), daemon=True,
                         name="lesson-runs").start()
    return ids
