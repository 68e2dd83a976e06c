"""Background-job slots: each slot is a background callback that drains the run queue.

A slot's job runs where the background manager puts it (a process forked by DiskcacheManager, or a
Celery worker). It never opens the database: `drain_queue` starts `python -m jobs.worker`
processes, which claim queued runs under the concurrency limit and train them, so no SQLite state
crosses a fork. Progress and Cancel go through the database, not through the job.
"""

from __future__ import annotations

from dash import Input, Output
from dash.exceptions import PreventUpdate

from dashboard import ids
from jobs.worker import drain_queue


def kick_values(busy: list[bool], wanted: int, stamp: str) -> list[str | None]:
    """Kick up to `wanted` idle slots; each kick value is unique (it is part of the job's cache key)."""
    out: list[str | None] = []
    for i, is_busy in enumerate(busy):
        if not is_busy and wanted > 0:
            out.append(f"{stamp}-{i}")
            wanted -= 1
        else:
            out.append(None)
    return out


def _register_slot(app, config, i: int) -> None:
    db_url, max_running = config.db_url, config.max_running

    @app.callback(
        Output(ids.SLOT_RESULT.format(i), "data"),
        Input(ids.SLOT_KICK.format(i), "data"),
        background=True,
        running=[(Output(ids.SLOT_BUSY.format(i), "data"), True, False)],
        progress=[Output(ids.SLOT_PROGRESS.format(i), "data")],
        prevent_initial_call=True,
    )
    def run_slot(set_progress, kick):
        if not kick:
            raise PreventUpdate
        trained = drain_queue(db_url, max_running, report=lambda line: set_progress(line))
        return {"kick": kick, "trained": trained}


def register(app, config) -> None:
    for i in range(config.max_running):
        _register_slot(app, config, i)
