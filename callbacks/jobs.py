"""The job slot: a background callback that makes sure warm workers serve the run queue.

Start (or a queued run that nobody has picked up) sets the kick store; the background job, wherever
the background manager runs it (a process forked by DiskcacheManager, or a Celery worker), calls
`jobs.worker.ensure_workers`, which starts a detached worker for each free slot and returns at once.
The workers own their lifetime: a Dash kill of this job (on re-trigger) cannot reach them. The job
never opens the database, so no SQLite state crosses a fork. Progress and Cancel go through the
database, not through the job; its result says which slots it started (shown nowhere, kept for tests).
"""

from __future__ import annotations

from dash import Input, Output
from dash.exceptions import PreventUpdate

from dashboard import ids
from jobs.worker import ensure_workers


def register(app, config) -> None:
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
