"""How a lesson or an ablation gets its runs trained: ONE injected function, `launch`.

    launch(specs: list[ExperimentSpec], db_url: str, experiment: str) -> list[int]   # run ids, in order

It must create one run per spec (in `experiment`) and return their ids at once; training happens
elsewhere, and callers wait by polling the runs table (lessons.runner.wait_for_runs).

- `launch_on_workers`: the job path. The runs are queued as one experiment and warm workers
  (jobs/worker.py, as `nnlab sweep` does) train them, up to $NNLAB_MAX_RUNNING at once. The CLI uses it.
- `launch_queued`: only queues; the dashboard uses it and kicks its job slot, which starts the workers.
(tests/lessons/in_process.py has a third, for tests: it trains the queued runs in a thread of the test.)
"""

from __future__ import annotations

from collections.abc import Callable

from engine.spec import ExperimentSpec

LaunchFn = Callable[[list[ExperimentSpec], str, str], list[int]]


def launch_queued(specs: list[ExperimentSpec], db_url: str, experiment: str) -> list[int]:
    """Queue the runs for the job path (warm workers, `python -m jobs.worker`) to train."""
    from jobs.queue import enqueue

    return enqueue(list(specs), db_url, experiment=experiment)


def launch_on_workers(specs: list[ExperimentSpec], db_url: str, experiment: str) -> list[int]:
    """Queue the runs as one experiment and make sure warm workers serve the queue (the job path)."""
    from jobs.threads import default_max_running
    from jobs.worker import ensure_workers

    ids = launch_queued(specs, db_url, experiment)
    if ids:
        ensure_workers(db_url, default_max_running(), wanted=len(ids))
    return ids
