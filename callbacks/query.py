"""Query page: example buttons, run a read-only query into the grid, download the result as CSV."""

from __future__ import annotations

import csv
import io

from dash import ALL, Input, Output, State, ctx, dcc
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.pages.query import EXAMPLES

GRID_MAX_ROWS = 10_000


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
        from storage.readonly import QueryError, QueryRefused, run_readonly_query

        try:
            result = run_readonly_query(config.db_url, sql or "", max_rows=GRID_MAX_ROWS, timeout_s=10.0)
        except QueryRefused as e:
            return [], [], html.Span(f"Refused: {e}", className="text-danger fw-semibold"), None
        except QueryError as e:
            return [], [], html.Span(f"Error: {e}", className="text-danger"), None
        cols = [f"c{i}" for i in range(len(result.columns))]
        rows = [dict(zip(cols, [_cell(v) for v in r])) for r in result.rows]
        defs = [{"field": c, "headerName": name} for c, name in zip(cols, result.columns)]
        more = f" (stopped at {GRID_MAX_ROWS} rows)" if result.truncated else ""
        noun = "row" if len(rows) == 1 else "rows"
        msg = html.Span(f"{len(rows)} {noun} in {result.elapsed_s * 1000:.0f} ms{more}", className="text-success")
        return rows, defs, msg, {"columns": list(result.columns), "rows": [[_cell(v) for v in r] for r in result.rows]}

    @app.callback(Output(ids.QUERY_DOWNLOAD, "data"), Input(ids.QUERY_DOWNLOAD_BUTTON, "n_clicks"),
                  State(ids.QUERY_RESULT, "data"), prevent_initial_call=True)
    def download(_n, result):
        if not result:
            raise PreventUpdate
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(result["columns"])
        writer.writerows(result["rows"])
        return dcc.send_string(buf.getvalue(), "nnlab-query.csv")


def _cell(value):
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(bytes(value))} bytes>"
    if isinstance(value, float) and value != value:
        return "NaN"
    return value if isinstance(value, int | float | str) or value is None else str(value)
