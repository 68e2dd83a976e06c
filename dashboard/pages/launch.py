"""Launch page: pick a family and its knobs, start runs (or a sweep), watch them live."""

import dash_bootstrap_components as dbc
from dash import dcc, html

from .. import ids
from ..components.launch_form import launch_form
from ..figures.curves import training_curves_figure

PATH = "/"
TITLE = "Launch"


def layout(family: str = "mlp", **_query):
    return dbc.Container([
        html.H4("Launch a run"),
        dbc.Card(dbc.CardBody(launch_form(family if family in ("perceptron", "mlp", "cnn", "resnet", "recurrent",
                                                                "attention") else "mlp")), className="mb-3"),
        dbc.Row([
            dbc.Col([html.H5("Runs in progress"), html.Div(id=ids.ACTIVE_RUNS)], md=5),
            dbc.Col([html.H5(id=ids.LIVE_TITLE, children="Live curves"),
                     dcc.Graph(id=ids.LIVE_CURVES, figure=training_curves_figure({}),
                               config={"displaylogo": False})], md=7),
        ]),
        dcc.Interval(id=ids.ACTIVE_INTERVAL, interval=1000),
        dcc.Store(id=ids.WATCHED_RUNS, storage_type="session", data=[]),
    ], fluid=True)
