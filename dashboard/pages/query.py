"""Query page: read-only SQL over the results database, results in a grid, CSV download."""

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
from dash import dcc, html

from .. import ids

PATH = "/query"
TITLE = "Query"

EXAMPLES = (
    ("Best run per optimizer",
     "SELECT optimizer, run_id, best_val_accuracy FROM (\n"
     "  SELECT p.value_text AS optimizer, r.id AS run_id, s.best_value AS best_val_accuracy,\n"
     "         ROW_NUMBER() OVER (PARTITION BY p.value_text ORDER BY s.best_value DESC) AS rank\n"
     "  FROM runs r\n"
     "  JOIN params p ON p.run_id = r.id AND p.name = 'optimizer'\n"
     "  JOIN metric_summary s ON s.run_id = r.id AND s.key = 'val_accuracy'\n"
     ") ranked\nWHERE rank = 1\nORDER BY best_val_accuracy DESC"),
    ("Mean final val accuracy by dropout",
     "SELECT p.value_num AS dropout, COUNT(*) AS runs, AVG(s.last_value) AS mean_final_val_accuracy\n"
     "FROM runs r\n"
     "JOIN params p ON p.run_id = r.id AND p.name = 'dropout'\n"
     "JOIN metric_summary s ON s.run_id = r.id AND s.key = 'val_accuracy'\n"
     "WHERE r.status = 'completed'\nGROUP BY p.value_num\nORDER BY p.value_num"),
    ("Runs that diverged",
     "SELECT r.id, r.name, r.model, r.dataset, r.status, MIN(m.step) AS first_bad_epoch\n"
     "FROM runs r JOIN metrics m ON m.run_id = r.id\n"
     "WHERE m.flag <> 0\nGROUP BY r.id, r.name, r.model, r.dataset, r.status\nORDER BY r.id"),
    ("Validation accuracy, long form",
     "SELECT run_id, step, value FROM metrics WHERE key = 'val_accuracy' ORDER BY run_id, step"),
)


def schema_panel(description):
    items = []
    for table in description:
        cols = [html.Li([html.Code(c["name"]), html.Span(f" {c['type']}", className="text-muted"),
                         html.Span(f" — {c['meaning']}" if c["meaning"] else "")], className="small")
                for c in table["columns"]]
        items.append(html.Details([html.Summary(html.Code(table["table"])),
                                   html.Div(table["meaning"], className="small text-muted"),
                                   html.Ul(cols, className="mb-2")], open=table["table"] in ("runs", "metrics")))
    return html.Div(items)


def layout(**_query):
    from storage.schema_doc import get_schema_description

    return dbc.Container([
        html.H4("Query the results"),
        dbc.Row([
            dbc.Col([
                html.Div([dbc.Button(label, id={"type": ids.QUERY_EXAMPLE, "index": i}, size="sm",
                                     color="outline-secondary", className="me-2 mb-2")
                          for i, (label, _) in enumerate(EXAMPLES)]),
                dbc.Textarea(id=ids.QUERY_TEXT, rows=7, className="font-monospace",
                             value=EXAMPLES[0][1]),
                html.Div(className="d-flex gap-2 mt-2 align-items-center", children=[
                    dbc.Button("Run query", id=ids.QUERY_RUN, color="primary", size="sm"),
                    dbc.Button("Download CSV", id=ids.QUERY_DOWNLOAD_BUTTON, color="secondary", size="sm"),
                    html.Span("read-only: writes are refused", className="small text-muted"),
                ]),
                html.Div(id=ids.QUERY_MESSAGE, className="small my-2"),
                dag.AgGrid(id=ids.QUERY_GRID, rowData=[], columnDefs=[], style={"height": "50vh"},
                           defaultColDef={"sortable": True, "filter": True, "resizable": True}),
                dcc.Download(id=ids.QUERY_DOWNLOAD),
                dcc.Store(id=ids.QUERY_RESULT),
            ], md=8),
            dbc.Col([html.H6("Schema"), schema_panel(get_schema_description())], md=4,
                    style={"maxHeight": "80vh", "overflowY": "auto"}),
        ]),
    ], fluid=True)
