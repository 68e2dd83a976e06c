"""Run page: header (status, error, duration, parameter count), curves and config, live while running."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate

from dashboard import ids
from engine.spec import used_settings
from dashboard.components.progress import format_duration, progress_text, status_badge
from dashboard.figures.curves import training_curves_figure


def run_header(run):
    text, pct = progress_text(run)
    finals = []
    for key in ("val_accuracy", "val_loss", "test_accuracy"):
        s = run.summary.get(key)
        if s and s.get("last") is not None:
            finals.append(f"{key} last {s['last']:.4f} · best {s['best']:.4f} (epoch {s['best_step']})")
    return html.Div([
        html.H4([f"Run #{run.id} {run.name or ''} ", status_badge(run.status, run.diverged)]),
        html.Div(f"{run.model} on {run.dataset} · {run.num_params or '?'} parameters · "
                 f"duration {format_duration(run.duration_s)} · {text}", className="text-muted"),
        html.Div([html.Div(f) for f in finals], className="small mt-1"),
        dbc.Progress(value=pct, className="my-2", striped=run.status == "running",
                     animated=run.status == "running") if run.status in ("queued", "running") else None,
        # always in the layout (its callback needs it), shown only while there is something to cancel
        dbc.Button("Cancel run", id=ids.RUN_CANCEL, color="outline-danger", size="sm",
                   disabled=run.status not in ("queued", "running") or run.cancel_requested,
                   style=None if run.status in ("queued", "running") else {"display": "none"}),
        dbc.Alert(html.Pre(run.error, className="mb-0 small"), color="danger", className="mt-2")
        if run.error else None,
    ], className="mb-2")


def _settings_table(settings: dict):
    rows = [html.Tr([html.Td(html.Code(k)), html.Td(str(v))]) for k, v in sorted(settings.items())]
    return dbc.Table(html.Tbody(rows), size="sm", striped=True, className="small", style={"maxWidth": "700px"})


def config_table(run):
    """The settings this run uses (its family's, without those USED_WHEN rules out); every setting of its
    spec behind "show all settings"."""
    spec = run.spec or run.params
    used = used_settings(spec)
    return html.Div([
        html.Div(f"{len(used)} settings this {run.model} run uses", className="small text-muted mb-1"),
        html.Div(_settings_table(used), id=ids.RUN_CONFIG_USED),
        html.Details([html.Summary(f"show all settings ({len(spec)}, unused ones included)", className="small"),
                      _settings_table(spec)], id=ids.RUN_CONFIG_ALL, className="mt-2"),
    ])


def register(app, config) -> None:
    @app.callback(
        Output(ids.RUN_HEADER, "children"),
        Output(ids.RUN_CURVES, "figure"),
        Output(ids.RUN_CONFIG, "children"),
        Output(ids.RUN_INTERVAL, "disabled"),
        Input(ids.RUN_INTERVAL, "n_intervals"),
        State(ids.RUN_ID, "data"),
    )
    def refresh(_n, run_id):
        from storage import reads
        from storage.db import open_db

        engine = open_db(config.db_url)
        run = reads.get_run(engine, run_id) if run_id is not None else None
        if run is None:
            return dbc.Alert(f"No run {'' if run_id is None else f'#{run_id} '}in this database.", color="warning"), \
                training_curves_figure({}), None, True
        history = reads.get_metric_history(engine, run.id)
        live = run.status in ("queued", "running")
        from callbacks.lessons import events_for_display
        from dashboard.figures.lessons import add_event_markers

        fig = add_event_markers(training_curves_figure(history), events_for_display(config.db_url, run),
                                subplots=True)
        return run_header(run), fig, config_table(run), not live

    @app.callback(Output(ids.RUN_INTERVAL, "disabled", allow_duplicate=True),
                  Input(ids.RUN_CANCEL, "n_clicks"), State(ids.RUN_ID, "data"), prevent_initial_call=True)
    def cancel(n, run_id):
        if not n:
            raise PreventUpdate
        from storage import writes
        from storage.db import open_db

        writes.request_cancel(open_db(config.db_url), run_id)
        return False
