"""The job slot: whatever Start (or a queued run that nobody has picked up) asks for, make sure workers
serve the run queue.

Local: the kick store triggers a background job, spawned by DiskcacheManager (a fresh interpreter:
dashboard/app.py says why not a fork), that calls `jobs.worker.ensure_workers`, which starts a
detached worker for each free slot and returns at once. The workers own their lifetime: a Dash kill of
this job (on re-trigger) cannot reach them.

With a broker (`nnlab serve --broker`): the kick, once the broker answers, triggers a background job that
Dash's CeleryManager sends to the `nnlab worker`s (`register_cluster_slot`), where it publishes wake
messages (jobs/cluster.py).

Either way Progress and Cancel go through the database, not through the job; its result says what it
did (shown nowhere, kept for tests).
"""

from __future__ import annotations

from dash import Input, Output, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from jobs.worker import ensure_workers


def register(app, config) -> None:
    if config.broker_url:
        register_cluster_slot(app, config.broker_url)
        return
    db_url, max_running = config.db_url, config.max_running

    @app.callback(
        Output(ids.WORKERS_RESULT, "data"),
        Input(ids.WORKERS_KICK, "data"),
        background=True,
        prevent_initial_call=True,
    )
    def start_workers(kick):
        if not kick:
            raise PreventUpdate
        return {"kick": kick["stamp"], "started": ensure_workers(db_url, max_running, wanted=kick["wanted"])}


def register_cluster_slot(app, broker_url: str) -> None:
    """The job slot as a background callback for `app`'s CeleryManager, whose Celery task (named after
    this callback's id and source) runs on an `nnlab worker`'s pool process: it publishes the kick's
    wakes through `broker_url` (the broker as seen from where it runs) and returns at once, naming the
    worker. The dashboard registers it among all its callbacks, each worker alone on a bare Dash app
    (dashboard/worker_slot.py); both run this same code, so the task names agree.

    Dash revokes a job with terminate=True (SIGTERM to the pool process executing it) when the slot is
    triggered again while the job is pending, and after reading every result. That can never stop a
    training run: this job trains nothing (a run is trained by a wake, in another task), and a Celery
    pool process executes one task at a time; the worker's main process removes a task from the ones
    it can terminate in the same step that frees its pool process for the next task. So the signal
    reaches either this job (a few milliseconds of publishing; the wakes it has not sent are made up by
    the workers' checks of the runs table) or nobody.
    """

    @app.callback(Output(ids.BROKER_ALERT, "children"), Output(ids.WORKERS_WAKE, "data"),
                  Input(ids.WORKERS_KICK, "data"), prevent_initial_call=True)
    def check_broker(kick):
        """Pass the kick on to the job slot only when the broker answers (CeleryManager cannot even submit
        the slot's job without it: the request would fail in the server); else say so on the page."""
        import dash_bootstrap_components as dbc

        from jobs.cluster import broker_problem
        from storage.db import mask_url

        problem = broker_problem(broker_url)
        if problem is None:
            return None, kick
        return dbc.Alert(f"The job queue at {mask_url(broker_url)} cannot be reached ({problem}). The runs are "
                         "queued in the database and start once the workers can be woken: start the broker again "
                         "(or serve without --broker to train on this machine).", color="danger",
                         dismissable=True), no_update

    @app.callback(
        Output(ids.WORKERS_RESULT, "data"),
        Input(ids.WORKERS_WAKE, "data"),
        background=True,
        prevent_initial_call=True,
    )
    def wake_workers(kick):
        from jobs.cluster import wake, worker_name

        if not kick:
            raise PreventUpdate
        return {"kick": kick["stamp"], "woken": wake(broker_url, kick["wanted"]), "worker": worker_name()}
