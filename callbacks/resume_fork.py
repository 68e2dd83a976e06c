"""Run page: Resume, "Fork from here" (the epoch picked on the curves, then the launch form in fork mode:
callbacks/launch_fork.py) and the run's lineage."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, dcc, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from jobs.lineage import Refused, other_engine, prepare_resume, resumes_from

from .launch import kick

RESUMABLE = ("crashed", "cancelled", "failed")


def lineage_text(engine, run_id: int) -> list:
    """'forked from #5 at epoch 11 ← #2 at epoch 10', with links; [] for a run that is no fork."""
    from storage.lineage import lineage

    chain = lineage(engine, run_id)
    parts: list = []
    for (_, epoch), (parent, _) in zip(chain, chain[1:]):
        parts += [" ← " if parts else "forked from ", dcc.Link(f"#{parent}", href=f"/run/{parent}"),
                  f" at epoch {epoch}"]
    return parts


def resume_run(engine, run_id: int, force: bool = False):
    """Queue `run_id` to resume (`force`: also a run of another engine version); (message, whether workers
    are needed)."""
    try:
        epoch = prepare_resume(engine, run_id, force=force)
    except Refused as e:
        return dbc.Alert(str(e), color="warning", className="small py-1"), False
    return dbc.Alert(resumes_from(run_id, epoch), color="info", className="small py-1"), True


def resume_anyway(run) -> str | None:
    """The label of the box that resumes a run of another engine version anyway; None for a run of this one."""
    import engine

    other = other_engine(run)
    if other is None:
        return None
    return (f"anyway: it was trained by engine {other}, this is {engine.__version__} (its later epochs may "
            f"differ slightly from an uninterrupted run)")


def fork_href(run_id: int | None, epoch) -> str | None:
    """The launch form forking `run_id` at `epoch` ('/?fork=5&at=3'); None until an epoch is picked."""
    if run_id is None or not epoch:
        return None
    return f"/?fork={run_id}&at={int(epoch)}"


def register(app, config) -> None:
    def db():
        from storage.db import open_db

        return open_db(config.db_url)

    @app.callback(Output(ids.RUN_RESUME, "style"), Output(ids.RUN_RESUME_FORCE, "style"),
                  Output(ids.RUN_RESUME_FORCE, "label"), Output(ids.RUN_LINEAGE, "children"),
                  Input(ids.RUN_INTERVAL, "n_intervals"), Input(ids.RUN_ID, "data"))
    def show_resume(_n, run_id):
        from storage import reads

        if run_id is None:
            raise PreventUpdate
        hidden = {"display": "none"}
        if reads.run_statuses(db(), [run_id]).get(run_id) not in RESUMABLE:  # the cheap read, every poll
            return hidden, hidden, None, lineage_text(db(), run_id)
        run = reads.get_run(db(), run_id)
        label = resume_anyway(run) if run is not None else None
        return None, (None if label else hidden), label, lineage_text(db(), run_id)

    @app.callback(Output(ids.RUN_FORK_EPOCH, "value"), Input(ids.RUN_CURVES, "clickData"), prevent_initial_call=True)
    def pick_epoch(click):
        points = (click or {}).get("points") or []
        if not points or points[0].get("x") is None:
            raise PreventUpdate
        return int(points[0]["x"])

    @app.callback(Output(ids.RUN_LINEAGE_MESSAGE, "children"),
                  Output(ids.WORKERS_KICK, "data", allow_duplicate=True),
                  Output(ids.RUN_INTERVAL, "disabled", allow_duplicate=True),
                  Input(ids.RUN_RESUME, "n_clicks"), State(ids.RUN_ID, "data"), State(ids.RUN_RESUME_FORCE, "value"),
                  prevent_initial_call=True)
    def resume(n, run_id, force):
        if not n or run_id is None:
            raise PreventUpdate
        message, queued = resume_run(db(), run_id, bool(force))
        return message, (kick(1) if queued else no_update), not queued

    @app.callback(Output(ids.RUN_FORK, "href"), Output(ids.RUN_FORK, "disabled"),
                  Input(ids.RUN_FORK_EPOCH, "value"), State(ids.RUN_ID, "data"))
    def fork_link(epoch, run_id):
        href = fork_href(run_id, epoch)
        return href, href is None
