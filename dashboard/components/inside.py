"""Layout pieces of the inside-the-network views: the run page's Inside tab and the compare section."""

from __future__ import annotations

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from .. import ids
from ..figures.common import empty_figure

# view key -> (title, the snapshot kind it needs). Order = order on the run page.
VIEWS = {
    "boundary": ("Decision boundary", "boundary"),
    "gradients": ("Gradient flow by depth", "stats"),
    "activations": ("Activations by depth", "stats"),
    "attention": ("Attention heads", "attention"),
    "heads": ("What each head does", "attention_heads"),
    "confidence": ("Confidence word by word", "confidence"),
    "recurrent": ("Through time: hidden state, gates, gradient", "recurrent"),
    "gates": ("Gates unit by unit", "gates"),
    "filters": ("First-layer filters", "filters"),
    "feature_maps": ("Feature maps", "feature_maps"),
    "confusion": ("Confusion matrix (validation)", "confusion"),
    "wrong": ("Most confidently wrong", "wrong"),
    "histograms": ("Weight and gradient histograms", "histograms"),
}
# Views that make sense side by side on the compare page.
COMPARE_VIEWS = ("boundary", "gradients", "activations", "attention", "heads", "confidence", "recurrent",
                 "filters", "feature_maps", "confusion")
PLAY_MS = 900


def epoch_slider(id_: str, max_epoch: int = 0, value: int | None = 0) -> dcc.Slider:
    return dcc.Slider(id=id_, min=0, max=max(max_epoch, 1), step=1, value=value, marks=None,
                      tooltip={"placement": "bottom", "always_visible": False}, updatemode="mouseup")


def inside_tab():
    """The run page's Inside tab: epoch slider with a play button, a probe example picker, the views."""
    return html.Div([
        dbc.Row([
            dbc.Col(dbc.Button("▶ Play", id=ids.INSIDE_PLAY, size="sm", color="outline-primary", n_clicks=0),
                    width="auto"),
            dbc.Col(epoch_slider(ids.INSIDE_EPOCH), className="pt-2"),
            dbc.Col(html.Span("epoch 0", id=ids.INSIDE_EPOCH_LABEL, className="fw-bold"), width="auto"),
            dbc.Col([dbc.Label("probe example", className="small mb-0 me-1"),
                     dbc.Input(id=ids.INSIDE_EXAMPLE, type="number", min=0, step=1, size="sm", debounce=True,
                               placeholder="longest", style={"width": "90px", "display": "inline-block"})],
                    width="auto"),
        ], className="g-2 mt-2 align-items-center"),
        dcc.Interval(id=ids.INSIDE_TIMER, interval=PLAY_MS, disabled=True),
        dcc.Store(id=ids.INSIDE_INDEX),
        html.Div(id=ids.INSIDE_VIEWS, className="mt-2"),
    ])


def view_card(view: str, title: str, body):
    """One view on the run page: a title and its figure (or table)."""
    content = dcc.Graph(id={"type": ids.INSIDE_VIEW, "view": view}, figure=body,
                        config={"displaylogo": False}) if isinstance(body, go.Figure) else body
    return html.Div([html.H6(title, className="mt-3 mb-0"), content], className="inside-view")


def _int_or_none(value) -> int | None:
    return int(value) if str(value).isdigit() else None


def compare_section(view: str = "", example: str = "", epoch: str = "", layer: str = ""):
    """The compare page's side-by-side section: one view of 2 to 4 runs at one epoch on one probe input.

    The arguments are the page's URL query values (inside=, example=, epoch=, layer=), as text.
    """
    return html.Div([
        html.H5("Inside: the same view, side by side", className="mt-4"),
        dbc.Row([
            dbc.Col([dbc.Label("View", className="small mb-0"),
                     dcc.Dropdown(id=ids.CMP_INSIDE_VIEW, clearable=False,
                                  value=view if view in COMPARE_VIEWS else "gradients",
                                  options=[{"label": VIEWS[v][0], "value": v} for v in COMPARE_VIEWS])], md=3),
            dbc.Col([dbc.Label("Epoch", className="small mb-0"),
                     epoch_slider(ids.CMP_INSIDE_EPOCH, _int_or_none(epoch) or 0, _int_or_none(epoch))], md=5),
            dbc.Col([dbc.Label("Probe example", className="small mb-0"),
                     dbc.Input(id=ids.CMP_INSIDE_EXAMPLE, type="number", min=0, step=1, debounce=True, size="sm",
                               placeholder="longest", value=_int_or_none(example))],
                    md=2),
            dbc.Col([dbc.Label("Layer", className="small mb-0"),
                     dbc.Input(id=ids.CMP_INSIDE_LAYER, type="number", min=0, step=1, value=_int_or_none(layer) or 0,
                               debounce=True, size="sm")], md=2),
        ], className="g-2 mb-2"),
        html.Div(id=ids.CMP_INSIDE_NOTE, className="small text-muted"),
        dcc.Loading(dcc.Graph(id=ids.CMP_INSIDE_FIGURE, config={"displaylogo": False},
                              figure=empty_figure("Select 2 to 4 runs to compare what they learned"))),
    ])
