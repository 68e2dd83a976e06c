"""Launch page: pick a family and its knobs, start runs (or a sweep), watch them live. With ?fork=N&at=K
it is the form of a fork of run N at epoch K (callbacks/launch_fork.py)."""

import dash_bootstrap_components as dbc
from dash import dcc, html

from .. import ids
from ..components.launch_form import FAMILY_LABELS, launch_form
from ..figures.curves import training_curves_figure

PATH = "/"
TITLE = "Launch"


def _fork(run, at):
    """(the fork target or None, its banner) for the query strings ?fork=N&at=K."""
    from flask import current_app

    from callbacks.launch_fork import fork_target
    from jobs.lineage import Refused
    from storage.db import open_db

    try:
        fork = fork_target(open_db(current_app.config["NNLAB"].db_url), run, at)
    except Refused as e:
        return None, dbc.Alert(f"Nothing to fork: {e}. This is a normal launch.", id=ids.FORK_BANNER,
                               color="warning")
    n, k = fork["run"], fork["at"]
    return fork, dbc.Alert([
        html.Strong(["Forking ", dcc.Link(f"run #{n}", href=f"/run/{n}"), f" at epoch {k}"]),
        f": the fork starts from its state at the end of epoch {k} and trains on with the knobs you change "
        "below. The model and data stay the parent's (greyed out). ",
        dcc.Link("Back to a normal launch", href="/", id=ids.FORK_LEAVE),
    ], id=ids.FORK_BANNER, color="info")


def _engine_choice(fork):
    """The box that forks a parent trained by another engine version anyway (`nnlab fork --force`); hidden
    for any other parent and for a normal launch."""
    import engine

    if not (fork and fork["engine"]):
        return dbc.Checkbox(id=ids.FORK_FORCE, value=False, style={"display": "none"})
    return dbc.Checkbox(id=ids.FORK_FORCE, value=False, className="mb-2", label=(
        f"Fork it anyway: run #{fork['run']} was trained by engine {fork['engine']}, this is {engine.__version__}, "
        "so its replayed epochs and the fork's later ones may differ slightly from what this engine would train."))


def _form(family, fork):
    if fork is None:
        return launch_form(family)
    from callbacks.launch_fork import LOCKED, parent_form

    return launch_form(*parent_form(fork["spec"]), locked=LOCKED)


def layout(family: str | None = None, fork: str | None = None, at: str | None = None, **_query):
    given = family if family in FAMILY_LABELS else None
    forking, banner = _fork(fork, at) if fork is not None else (None, None)
    return dbc.Container([
        html.H4("Fork a run" if forking else "Launch a run"),
        banner,
        _engine_choice(forking),
        dbc.Card(dbc.CardBody(_form(given or "mlp", forking)), className="mb-3"),
        dbc.Row([
            dbc.Col([html.Div(id=ids.SWEEPS_SUMMARY),
                     html.H5("Active runs"), html.Div(id=ids.ACTIVE_RUNS),
                     html.H5("Finished", className="mt-3"), html.Div(id=ids.FINISHED_RUNS)], md=5),
            dbc.Col([html.H5(id=ids.LIVE_TITLE, children="Live curves"),
                     dcc.Graph(id=ids.LIVE_CURVES, figure=training_curves_figure({}),
                               config={"displaylogo": False})], md=7),
        ]),
        dcc.Interval(id=ids.ACTIVE_INTERVAL, interval=1000),
        dcc.Store(id=ids.WATCHED_RUNS, storage_type="session", data={"runs": [], "sweeps": []}),
        dcc.Store(id=ids.FORM_SAVED, storage_type="local"),
        dcc.Store(id=ids.FORM_RESTORED, data=False),
        dcc.Store(id=ids.URL_FAMILY, data=given),
        dcc.Store(id=ids.FORK_FROM, data=forking),
        dcc.Store(id=ids.CANCEL_REQUEST),
        dcc.Store(id=ids.SWEEPS_OPEN, storage_type="session", data=[]),
    ], fluid=True)
