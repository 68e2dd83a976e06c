"""Launch page: family switch, validation, Start (single run or sweep), live progress and Cancel."""

from __future__ import annotations

import time

from dash import ALL, Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.components.launch_form import (FAMILY_DATASETS, FAMILY_MODELS, FIELD_NAMES, FIELDS,
                                              SHOWN_WHEN, SHOWN_WHEN_INPUTS, field_style, field_value)
from dashboard.components.progress import run_progress_card, seconds_since
from dashboard.figures.curves import training_curves_figure
from engine.spec import SpecError, parse_spec

WATCH_LIMIT = 6
AUTO_KICK_AFTER_S = 5.0


def kick(wanted: int) -> dict:
    """The job slot's input: start up to `wanted` workers (the stamp makes every kick a new job)."""
    return {"stamp": f"{time.time():.6f}", "wanted": int(wanted)}


def form_values(family: str, names: list[str], values: list) -> dict:
    """The spec values the form holds for `family` (hidden fields keep the spec's defaults)."""
    fields = {f.name: f for f in FIELDS}
    out = {}
    for name, value in zip(names, values):
        f = fields[name]
        if family not in f.families and name != "model":
            continue
        out[name] = value
    if family not in FAMILY_MODELS:
        out["model"] = family
    # a field the current settings hide (gamma without the step schedule, momentum with Adam) is not
    # used: it keeps its default, so a stale value in it can neither block nor change the run
    return {k: v for k, v in out.items() if SHOWN_WHEN.get(k, lambda _v: True)(out)}


def _message(text: str, ok: bool):
    from dash import html

    return html.Span(text, className="text-success" if ok else "text-danger fw-semibold",
                     id="launch-message-text")


def register(app, config) -> None:
    @app.callback(
        Output({"type": ids.LAUNCH_FIELD, "name": ALL}, "value"),
        Output({"type": ids.LAUNCH_FIELD, "name": "dataset"}, "options"),
        Output({"type": ids.LAUNCH_FIELD, "name": "model"}, "options"),
        Input(ids.FAMILY, "value"),
        prevent_initial_call=True,
    )
    def switch_family(family):
        values = [field_value(f.name, family) for f in FIELDS]
        datasets = [{"label": d, "value": d} for d in FAMILY_DATASETS[family]]
        models = [{"label": m, "value": m} for m in FAMILY_MODELS.get(family, (family,))]
        return values, datasets, models

    @app.callback(
        Output({"type": "launch-wrap", "name": ALL}, "style"),
        Input(ids.FAMILY, "value"),
        [Input({"type": ids.LAUNCH_FIELD, "name": n}, "value") for n in SHOWN_WHEN_INPUTS],
        prevent_initial_call=True,
    )
    def show_fields(family, *settings):
        current = dict(zip(SHOWN_WHEN_INPUTS, settings))
        return [field_style(f, family, current) for f in FIELDS]

    @app.callback(Output("launch-sweep-collapse", "is_open"), Input(ids.SWEEP_ON, "value"))
    def toggle_sweep(on):
        return bool(on)

    @app.callback(
        Output(ids.LAUNCH_MESSAGE, "children"),
        Output({"type": "launch-wrap", "name": ALL}, "className"),
        Output(ids.WATCHED_RUNS, "data"),
        Output(ids.WORKERS_KICK, "data"),
        Input(ids.START, "n_clicks"),
        Input({"type": ids.LAUNCH_FIELD, "name": ALL}, "value"),
        State(ids.FAMILY, "value"),
        State(ids.SWEEP_ON, "value"),
        State(ids.SWEEP_TEXT, "value"),
        State(ids.EXPERIMENT_NAME, "value"),
        State(ids.WATCHED_RUNS, "data"),
        prevent_initial_call=True,
    )
    def validate_or_start(n_clicks, values, family, sweep_on, sweep_text, experiment, watched):
        names = [o["id"]["name"] for o in ctx.inputs_list[1]]
        spec_values = form_values(family, names, values)
        starting = ctx.triggered_id == ids.START
        try:
            if sweep_on:
                from jobs.sweep import expand_sweep

                specs = expand_sweep(spec_values, sweep_text or "")
            else:
                specs = [parse_spec(spec_values)]
        except SpecError as e:
            classes = ["mb-2 field-invalid" if n == e.field else "mb-2" for n in FIELD_NAMES]
            return _message(f"Refused — {e.field}: {e.message}. Nothing was started.", False), classes, \
                no_update, no_update
        classes = ["mb-2"] * len(FIELD_NAMES)
        if not starting:
            note = f"Ready: {len(specs)} runs in the sweep" if sweep_on else ""
            return _message(note, True), classes, no_update, no_update
        from jobs.queue import default_experiment_name, enqueue

        name = (experiment or "").strip() or (default_experiment_name() if sweep_on else "")
        run_ids = enqueue(specs, config.db_url, experiment=name)
        watched = [*run_ids, *(watched or [])][:WATCH_LIMIT]
        text = (f"Queued sweep '{name}': {len(run_ids)} runs (#{run_ids[0]}–#{run_ids[-1]})" if sweep_on
                else f"Started run #{run_ids[0]}")
        return _message(text, True), classes, watched, kick(len(run_ids))

    @app.callback(
        Output(ids.ACTIVE_RUNS, "children"),
        Output(ids.LIVE_CURVES, "figure"),
        Output(ids.LIVE_TITLE, "children"),
        Output(ids.WORKERS_KICK, "data", allow_duplicate=True),
        Input(ids.ACTIVE_INTERVAL, "n_intervals"),
        State(ids.WATCHED_RUNS, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def refresh_active(_n, watched):
        from dash import html
        from storage import reads, writes
        from storage.db import open_db

        db = open_db(config.db_url)
        writes.mark_crashed_runs(db)
        active = reads.list_runs(db, status=["running", "queued"], sort="created_at", descending=False,
                                 limit=50)
        shown_ids = {r.id for r in active}
        extra = [i for i in (watched or []) if i not in shown_ids]
        recent = reads.list_runs(db, run_ids=extra, limit=len(extra)) if extra else []
        runs = active + recent
        cards = [run_progress_card(r) for r in runs] or [html.Div("No runs in progress.", className="text-muted")]
        focus = next((r for r in runs if r.id in (watched or [])), None) or (active[0] if active else None)
        if focus is None:
            fig, title = training_curves_figure({}), "Live curves"
        else:
            hist = reads.get_metric_history(db, focus.id, ["train_loss", "val_loss", "train_accuracy",
                                                          "val_accuracy"])
            fig, title = training_curves_figure(hist), f"Live curves: run #{focus.id} ({focus.status})"
        # Runs queued a while ago that no worker took (the workers had exited, say): start workers.
        queued = sum(1 for r in active if r.status == "queued" and seconds_since(r.created_at) > AUTO_KICK_AFTER_S)
        return cards, fig, title, kick(queued) if queued else no_update

    @app.callback(
        Output(ids.LAUNCH_MESSAGE, "children", allow_duplicate=True),
        Input({"type": ids.CANCEL_RUN, "run": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def cancel_run(clicks):
        if not ctx.triggered_id or not any(c for c in clicks if c):
            raise PreventUpdate
        if not ctx.triggered[0]["value"]:
            raise PreventUpdate
        from storage import writes
        from storage.db import open_db

        run_id = ctx.triggered_id["run"]
        status = writes.request_cancel(open_db(config.db_url), run_id)
        return _message(f"Cancel requested for run #{run_id} ({status})", True)
