"""The Run page's Ablate tab: change one knob, choose K seeds and a metric, see the paired verdict."""

import dash_bootstrap_components as dbc
from dash import dcc, html

from .. import ids
from ..figures.common import empty_figure


def ablate_tab():
    return html.Div([
        html.P("Train this run's configuration and a changed one on the same K seeds (this run's seed and the "
               "next K-1; finished runs are reused) and see whether the change is better, worse or within the "
               "seed-to-seed noise. The effect is the changed arm minus the original.", className="small text-muted"),
        dbc.Row([
            dbc.Col([dbc.Label("knob", className="small"), dcc.Dropdown(id=ids.ABLATE_KNOB, options=[],
                                                                       clearable=False)], md=3),
            dbc.Col([dbc.Label("new value", className="small"), dbc.Input(id=ids.ABLATE_VALUE, type="text")], md=2),
            dbc.Col([dbc.Label("seeds", className="small"),
                     dbc.Input(id=ids.ABLATE_SEEDS, type="number", min=1, max=50, step=1, value=5)], md=1),
            dbc.Col([dbc.Label("metric", className="small"),
                     dbc.Input(id=ids.ABLATE_METRIC, type="text", value="val_accuracy:best")], md=3),
            dbc.Col(dbc.Button("Ablate", id=ids.ABLATE_START, color="primary", className="mt-4"), md=2),
        ], className="g-2 mb-2"),
        html.Div(id=ids.ABLATE_MESSAGE),
        dcc.Store(id=ids.ABLATE_PLAN),
        html.Div(id=ids.ABLATE_PROGRESS),
        html.Div(id=ids.ABLATE_VERDICT, className="my-1"),
        dcc.Graph(id=ids.ABLATE_FIGURE, figure=empty_figure("No ablation yet", height=220),
                  config={"displaylogo": False}),
        dcc.Interval(id=ids.ABLATE_INTERVAL, interval=1500),
    ], className="mt-2")
