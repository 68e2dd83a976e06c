"""Query page: example buttons, run a read-only query into the grid, download the result as CSV."""

from __future__ import annotations

import csv
import io

from dash import ALL, Input, Output, State, ctx, dcc
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.pages.query import EXAMPLES

GRID_MAX_ROWS = 10_000
GRID_MAX_CHARS = 200  # a longer text cell is cut in the grid, with a note; the CSV download has it whole
TIMEOUT_S = 10.0


def register(app, config) -> None:
    @app.callback(Output(ids.QUERY_TEXT, "value"), Input({"type": ids.QUERY_EXAMPLE, "index": ALL}, "n_clicks"),
                  prevent_initial_call=True)
    def pick_example(clicks):
        if not ctx.triggered_id or not any(clicks):
            raise PreventUpdate
        return EXAMPLES[ctx.triggered_id["index"]][1]

    @app.callback(
        Output(ids.QUERY_GRID, "rowData"),
        Output(ids.QUERY_GRID, "columnDefs"),
        Output(ids.QUERY_MESSAGE, "children"),
        Output(ids.QUERY_RESULT, "data"),
        Input(ids.QUERY_RUN, "n_clicks"),
        State(ids.QUERY_TEXT, "value"),
        prevent_initial_call=True,
    )
    def run_query(_n, sql):
        from dash import html
        from storage.db import mask_url
        from storage.readonly import QueryError, QueryRefused, run_readonly_query

        try:
            result = run_readonly_query(config.query_url, sql or "", max_rows=GRID_MAX_ROWS, timeout_s=TIMEOUT_S)
        except QueryRefused as e:
            return [], [], html.Span(f"Refused: {mask_url(str(e))}", className="text-danger fw-semibold"), None
        except QueryError as e:
            return [], [], html.Span(f"Error: {mask_url(str(e))}", className="text-danger"), None
        cols = [f"c{i}" for i in range(len(result.columns))]
        cells = [[_cell(v) for v in r] for r in result.rows]
        rows = [dict(zip(cols, r)) for r in cells]
        defs = [{"field": c, "headerName": name} for c, name in zip(cols, result.columns)]
        more = f" (stopped at {len(rows)} rows)" if result.truncated else ""
        cut = " Long cells are shortened here; the CSV has them whole." if any(
            isinstance(v, str) and v.endswith(" more characters]") for r in cells for v in r) else ""
        noun = "row" if len(rows) == 1 else "rows"
        msg = html.Span(f"{len(rows)} {noun} in {result.elapsed_s * 1000:.0f} ms{more}.{cut}", className="text-success")
        return rows, defs, msg, {"sql": sql}  # the download runs it again: results never travel back up

    @app.callback(Output(ids.QUERY_DOWNLOAD, "data"), Input(ids.QUERY_DOWNLOAD_BUTTON, "n_clicks"),
                  State(ids.QUERY_RESULT, "data"), prevent_initial_call=True)
    def download(_n, last):
        from storage.readonly import QueryError, run_readonly_query

        if not last or not last.get("sql"):
            raise PreventUpdate
        try:
            result = run_readonly_query(config.query_url, last["sql"], max_rows=GRID_MAX_ROWS, timeout_s=TIMEOUT_S)
        except QueryError:
            raise PreventUpdate from None
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(result.columns)
        writer.writerows([[_cell(v, limit=None) for v in r] for r in result.rows])
        return dcc.send_string(buf.getvalue(), "nnlab-query.csv")


def _cell(value, limit: int | None = GRID_MAX_CHARS):
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, float) and value != value:
        return "NaN"
    if not (isinstance(value, int | float | str) or value is None):
        value = str(value)
    if limit is not None and isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]}... [{len(value) - limit} more characters]"
    return value
