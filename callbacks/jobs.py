"""The job slot: whatever Start (or a queued run that nobody has picked up) asks for, make sure workers
serve the run queue.

Local: the kick store triggers a background job, wherever the background manager runs it (a process
forked by DiskcacheManager, or a Celery worker), that calls `jobs.worker.ensure_workers`, which starts
a detached worker for each free slot and returns at once. The workers own their lifetime: a Dash kill
of this job (on re-trigger) cannot reach them. The job never opens the database, so no SQLite state
crosses a fork. Progress and Cancel go through the database, not through the job; its result says
which slots it started (shown nowhere, kept for tests).

With a broker (`nnlab serve --broker`): an ordinary callback publishes wake messages for the
`nnlab worker`s (jobs/cluster.py), a millisecond's work; no job of the dashboard runs on a worker, so
the workers need no Dash app.
"""

from __future__ import annotations

from dash import Input, Output
from dash.exceptions import PreventUpdate

from dashboard import ids
from jobs.worker import ensure_workers


def register(app, config) -> None:
    db_url, max_running, broker_url = config.db_url, config.max_running, config.broker_url

    if broker_url:
        @app.callback(Output(ids.WORKERS_RESULT, "data"), Input(ids.WORKERS_KICK, "data"),
                      prevent_initial_call=True)
        def wake_workers(kick):
            from jobs.cluster import wake

            if not kick:
                raise PreventUpdate
            return {"kick": kick["stamp"], "woken": wake(broker_url, kick["wanted"])}

        return

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
