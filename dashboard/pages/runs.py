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


def _initial_state():
    """The grid's first columns and the live-update fingerprint, read with the page."""
    from flask import current_app

    from callbacks.runs import column_defs, runs_fingerprint, setting_columns
    from storage.db import open_db

    fingerprint = runs_fingerprint(open_db(current_app.config["NNLAB"].db_url))
    return column_defs(setting_columns(fingerprint[2])), fingerprint


def layout(**_query):
    columns, fingerprint = _initial_state()
    # Infinite row model: rows arrive in blocks from the server as the grid scrolls (see callbacks/runs.py).
    # Rows still in flight are shaded ("nnlab-row-loading") and their id cell says "loading…".
    grid = dag.AgGrid(
        id=ids.RUNS_GRID, columnDefs=columns, rowModelType="infinite",
        defaultColDef={"sortable": True, "resizable": True, "minWidth": 90},
        dashGridOptions={"rowSelection": {"mode": "multiRow", "enableClickSelection": False,
                                          "headerCheckbox": False},
                         "selectionColumnDef": {"pinned": "left", "width": 50},
                         "cacheBlockSize": 100, "maxBlocksInCache": 20, "infiniteInitialRowCount": 100,
                         "animateRows": False, "rowBuffer": 20, "tooltipShowDelay": 300,
                         "rowClassRules": {"nnlab-row-loading": "!params.data"}},
        getRowId="params.data.row_id", style={"height": "70vh"})
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
            html.Span(f"{fingerprint[0]} runs" if fingerprint[0] != 1 else "1 run", id=ids.RUNS_COUNT,
                      className="small text-muted ms-2"),
            dbc.Switch(id=ids.RUNS_ALL_SETTINGS, label="show all settings", value=False,
                       className="small ms-2 mb-0"),
        ]),
        html.Div(id=ids.RUNS_MESSAGE, className="small mb-2"),
        dcc.ConfirmDialog(id=ids.RUNS_DELETE_CONFIRM, message="Delete the selected runs and all their metrics?"),
        dcc.Location(id=ids.RUNS_COMPARE_LINK, refresh="callback-nav"),
        grid,
        html.Div("Tip: double-click a Tags or Notes cell to edit it; click a run id to open it.",
                 className="small text-muted mt-1"),
        dcc.Interval(id=ids.RUNS_INTERVAL, interval=2000),
        dcc.Store(id=ids.RUNS_FINGERPRINT, data=fingerprint),
    ], fluid=True)
