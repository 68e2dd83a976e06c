"""Runs page: every run in a virtualised grid; filter, sort, tag, note, delete, compare."""

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from .. import ids

PATH = "/runs"
TITLE = "Runs"

STATUS_STYLE = {
    "styleConditions": [
        {"condition": f"params.value && params.value.startsWith('{s}')", "style": {"color": c, "fontWeight": 600}}
        for s, c in (("completed", "#198754"), ("running", "#0d6efd"), ("queued", "#6c757d"),
                     ("cancelled", "#b58100"), ("failed", "#dc3545"), ("crashed", "#dc3545"))
    ]
}


def layout(**_query):
    # Infinite row model: rows arrive in blocks from the server as the grid scrolls (see callbacks/runs.py).
    grid = dag.AgGrid(
        id=ids.RUNS_GRID, columnDefs=[], rowModelType="infinite",
        defaultColDef={"sortable": True, "resizable": True, "minWidth": 90},
        dashGridOptions={"rowSelection": {"mode": "multiRow", "enableClickSelection": False},
                         "selectionColumnDef": {"pinned": "left", "width": 50},
                         "cacheBlockSize": 100, "maxBlocksInCache": 20, "infiniteInitialRowCount": 100,
                         "animateRows": False, "rowBuffer": 20, "tooltipShowDelay": 300},
        getRowId="params.data.id", style={"height": "70vh"})
    return dbc.Container([
        html.Div(className="d-flex flex-wrap gap-2 align-items-center mb-2", children=[
            html.H4("Runs", className="me-3 mb-0"),
            dbc.Input(id=ids.RUNS_SEARCH, placeholder="search name, notes, tags, model, data set", size="sm",
                      style={"maxWidth": "280px"}, debounce=True),
            dbc.Button("Compare selected", id=ids.RUNS_COMPARE, size="sm", color="primary"),
            dbc.Input(id=ids.RUNS_TAG_TEXT, placeholder="tag", size="sm", style={"maxWidth": "120px"}),
            dbc.Button("Tag selected", id=ids.RUNS_TAG, size="sm", color="secondary"),
            dbc.Button("Cancel selected", id=ids.RUNS_CANCEL, size="sm", color="warning"),
            dbc.Button("Delete selected", id=ids.RUNS_DELETE, size="sm", color="danger"),
            html.Span(id=ids.RUNS_COUNT, className="small text-muted ms-2"),
        ]),
        html.Div(id=ids.RUNS_MESSAGE, className="small mb-2"),
        dcc.ConfirmDialog(id=ids.RUNS_DELETE_CONFIRM, message="Delete the selected runs and all their metrics?"),
        dcc.Location(id=ids.RUNS_COMPARE_LINK, refresh="callback-nav"),
        grid,
        html.Div("Tip: double-click a Tags or Notes cell to edit it; click a run id to open it.",
                 className="small text-muted mt-1"),
        dcc.Interval(id=ids.RUNS_INTERVAL, interval=2000),
        dcc.Store(id=ids.RUNS_FINGERPRINT),
    ], fluid=True)
