"""Run page: one run's status, config, curves, duration and parameter count."""

import dash_bootstrap_components as dbc
from dash import dcc, html

from .. import ids
from ..components.ablate import ablate_tab
from ..components.inside import inside_tab
from ..components.resume_fork import resume_fork_panel
from ..figures.curves import training_curves_figure
from . import url_run_id

PATH_TEMPLATE = "/run/<run_id>"
TITLE = "Run"


def layout(run_id: str = "", **_query):
    rid = url_run_id(run_id)
    return dbc.Container([
        dcc.Store(id=ids.RUN_ID, data=rid),
        html.Div(id=ids.RUN_HEADER),
        resume_fork_panel(),
        dbc.Tabs([
            dbc.Tab([dcc.Graph(id=ids.RUN_CURVES, figure=training_curves_figure({}), config={"displaylogo": False}),
                     html.Div(id=ids.RUN_EVENTS)], label="Curves", tab_id="curves"),
            dbc.Tab(html.Div(id=ids.RUN_CONFIG, className="mt-2"), label="Config", tab_id="config"),
            dbc.Tab(inside_tab(), label="Inside", tab_id="inside"),
            dbc.Tab(ablate_tab(), label="Ablate", tab_id="ablate"),
        ], active_tab="curves", id="run-tabs"),
        dcc.Interval(id=ids.RUN_INTERVAL, interval=1500),
    ], fluid=True)
