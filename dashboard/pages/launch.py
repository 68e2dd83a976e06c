"""Launch page: pick a family and its knobs, start runs (or a sweep), watch them live."""

import dash_bootstrap_components as dbc
from dash import dcc, html

from .. import ids
from ..components.launch_form import FAMILY_LABELS, launch_form
from ..figures.curves import training_curves_figure

PATH = "/"
TITLE = "Launch"


def layout(family: str | None = None, **_query):
    given = family if family in FAMILY_LABELS else None
    return dbc.Container([
        html.H4("Launch a run"),
        dbc.Card(dbc.CardBody(launch_form(given or "mlp")), className="mb-3"),
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
        dcc.Store(id=ids.CANCEL_REQUEST),
        dcc.Store(id=ids.SWEEPS_OPEN, storage_type="session", data=[]),
    ], fluid=True)
