"""A LaunchFn for tests (lessons/launch.py): queue the runs, then train them one after another in a daemon
thread of this process with jobs.run.run_experiment, so a test needs no detached worker processes."""

from __future__ import annotations

import threading

from engine.spec import ExperimentSpec
from lessons.launch import launch_queued


def launch_in_process(specs: list[ExperimentSpec], db_url: str, experiment: str) -> list[int]:
    """Queue the runs, then train them one after another with jobs.run.run_experiment in a daemon thread
    of this process; returns the run ids at once."""
    ids = launch_queued(specs, db_url, experiment)
    if ids:
        threading.Thread(target=_train_queued, args=(ids, list(specs), db_url), daemon=True,
                         name="lesson-runs").start()
    return ids


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
