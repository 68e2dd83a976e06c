"""Launch page: family switch, validation with a sweep's size and cost, Start, live progress and Cancel.

The form is saved in the browser's local storage on every change and restored on the next visit.
Start queues the runs and kicks the job slot (callbacks/jobs.py), which makes sure warm workers take
them. In fork mode (?fork=N&at=K, callbacks/launch_fork.py) Start queues one fork through prepare_fork.
The live panel reads the runs table every second (one lean query): the runs of this session's sweeps as
summaries, the active runs as cards (Cancel only there), the finished ones as lines.
"""

from __future__ import annotations

import time

from dash import ALL, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.components.launch_form import (FAMILY_DATASETS, FAMILY_MODELS, FIELD_NAMES, FIELDS,
                                              SHOWN_WHEN, SHOWN_WHEN_INPUTS, field_style, field_value)
from dashboard.components.progress import (finished_run_line, format_duration, run_progress_card, seconds_since,
                                           sweep_summary)
from dashboard.figures.curves import training_curves_figure
from engine.spec import SpecError, parse_spec
from jobs.lineage import Refused, prepare_fork

from .launch_fork import changes_text, form_changes

AUTO_KICK_AFTER_S = 5.0
FINISHED_SHOWN = 30
ACTIVE_CARDS = 12


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


def sweep_preview(specs: list, db_url: str, max_running: int) -> str:
    """'9 runs × 60 epochs, about 40 s on 2 slots' from the store's recent runs of the same model and data."""
    from storage import reads
    from storage.db import open_db

    db = open_db(db_url)
    epochs = sum(s.epochs for s in specs)
    known = {}
    for s in specs:
        if (s.model, s.dataset) not in known:
            known[(s.model, s.dataset)] = reads.typical_epoch_seconds(db, s.model, s.dataset)
    shape = (f"{len(specs)} runs × {specs[0].epochs} epochs" if len({s.epochs for s in specs}) == 1
             else f"{len(specs)} runs, {epochs} epochs in all")
    if any(v is None for v in known.values()):
        return f"{shape}; time unknown until a run of this model on this data has finished"
    seconds = sum(known[(s.model, s.dataset)] * s.epochs for s in specs) / max(1, min(max_running, len(specs)))
    return f"{shape}, about {format_duration(seconds)} on {min(max_running, len(specs))} slots"


def _message(text: str | list, kind: str = "ok"):
    css = {"ok": "text-success", "info": "text-muted", "warn": "text-warning fw-semibold",
           "error": "text-danger fw-semibold"}[kind]
    return html.Span(text, className=css, id="launch-message-text")


def _refused(e: SpecError):
    """The message and field classes for a value the spec refuses (that field marked)."""
    return (_message(f"Refused — {e.field}: {e.message}. Nothing was started.", "error"),
            ["mb-2 field-invalid" if n == e.field else "mb-2" for n in FIELD_NAMES])


def _watch(watched: dict | None, run_ids: list[int], sweep: str | None = None) -> dict:
    """The session's watched runs (and sweeps) with `run_ids` added in front."""
    watched = dict(watched or {"runs": [], "sweeps": []})
    watched["runs"] = [*run_ids, *watched.get("runs", [])][:500]
    if sweep is not None:
        watched["sweeps"] = [{"name": sweep, "runs": run_ids}, *watched.get("sweeps", [])][:5]
    return watched


def register(app, config) -> None:
    @app.callback(
        Output(ids.FAMILY, "value"),
        Output({"type": ids.LAUNCH_FIELD, "name": ALL}, "value"),
        Output({"type": ids.LAUNCH_FIELD, "name": "dataset"}, "options"),
        Output({"type": ids.LAUNCH_FIELD, "name": "model"}, "options"),
        Output(ids.SWEEP_ON, "value"),
        Output(ids.SWEEP_TEXT, "value"),
        Output(ids.EXPERIMENT_NAME, "value"),
        Output(ids.FORM_RESTORED, "data"),
        Input(ids.FAMILY, "value"),
        Input(ids.FORM_SAVED, "modified_timestamp"),
        State(ids.FORM_SAVED, "data"),
        State(ids.FORM_RESTORED, "data"),
        State(ids.URL_FAMILY, "data"),
        State(ids.FORK_FROM, "data"),
    )
    def set_form(family, _saved_at, saved, restored, url_family, fork):
        """A family picked by the user: its defaults. On the page's first load: the saved form (unless
        the URL names a family, or a run to fork: the layout filled the form with its settings)."""
        if ctx.triggered_id == ids.FAMILY:
            values = [field_value(f.name, family) for f in FIELDS]
            return no_update, values, *_options(family), no_update, no_update, no_update, no_update
        if restored or fork:
            raise PreventUpdate
        if not saved or url_family or saved.get("family") not in FAMILY_DATASETS:
            return no_update, [no_update] * len(FIELDS), *(no_update,) * 5, True
        family = saved["family"]
        stored = saved.get("values", {})
        values = [stored.get(f.name, field_value(f.name, family)) for f in FIELDS]
        return (family, values, *_options(family), bool(saved.get("sweep_on")), saved.get("sweep_text") or "",
                saved.get("experiment") or "", True)

    def _options(family):
        return ([{"label": d, "value": d} for d in FAMILY_DATASETS[family]],
                [{"label": m, "value": m} for m in FAMILY_MODELS.get(family, (family,))])

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
        Output(ids.FORM_SAVED, "data"),
        Input(ids.START, "n_clicks"),
        Input({"type": ids.LAUNCH_FIELD, "name": ALL}, "value"),
        Input(ids.SWEEP_ON, "value"),
        Input(ids.SWEEP_TEXT, "value"),
        Input(ids.EXPERIMENT_NAME, "value"),
        Input(ids.APPEND, "value"),
        State(ids.FAMILY, "value"),
        State(ids.WATCHED_RUNS, "data"),
        State(ids.FORM_RESTORED, "data"),
        State(ids.FORK_FROM, "data"),
        State(ids.FORK_FORCE, "value"),
        prevent_initial_call=True,
    )
    def validate_or_start(n_clicks, values, sweep_on, sweep_text, experiment, append, family, watched, restored,
                          fork, force):
        names = [o["id"]["name"] for o in ctx.inputs_list[1]]
        spec_values = form_values(family, names, values)
        # Start may arrive in one request with a field's change (typed, then Start clicked at once)
        starting = bool(n_clicks) and f"{ids.START}.n_clicks" in ctx.triggered_prop_ids
        if fork:  # never saved: restored stays False on a fork's page
            return (*fork_step(fork, spec_values, starting, watched, bool(force)), no_update)
        saved = {"family": family, "values": dict(zip(names, values)), "sweep_on": bool(sweep_on),
                 "sweep_text": sweep_text or "", "experiment": experiment or ""} if restored else no_update
        try:
            if sweep_on:
                from jobs.sweep import expand_sweep

                specs = expand_sweep(spec_values, sweep_text or "")
            else:
                specs = [parse_spec(spec_values)]
        except SpecError as e:
            return (*_refused(e), no_update, no_update, saved)
        classes = ["mb-2"] * len(FIELD_NAMES)
        name = (experiment or "").strip()
        taken = bool(name) and _experiment_exists(config.db_url, name)
        if taken and not append:
            return (_message(f"Experiment '{name}' already exists: choose another name, or tick 'add to it'. "
                             "Nothing was started.", "error"), classes, no_update, no_update, saved)
        if not starting:
            note = sweep_preview(specs, config.db_url, config.max_running) if sweep_on else ""
            if taken:
                note = f"{note}; the runs will be added to experiment '{name}'".lstrip("; ")
            return _message(note, "info"), classes, no_update, no_update, saved
        from jobs.queue import default_experiment_name, enqueue

        name = name or (default_experiment_name() if sweep_on else "")
        run_ids = enqueue(specs, config.db_url, experiment=name)
        watched = _watch(watched, run_ids, name if sweep_on else None)
        text = (f"Queued sweep '{name}': {len(run_ids)} runs (#{run_ids[0]}–#{run_ids[-1]})" if sweep_on
                else f"Started run #{run_ids[0]}")
        return _message(text), classes, watched, kick(len(run_ids)), saved

    def fork_step(fork, spec_values, starting, watched, force=False):
        """Fork mode: what the fork changes so far, or (Start) the fork queued with the checks of `nnlab fork`."""
        from storage.db import open_db

        changes = form_changes(spec_values)
        try:
            text = changes_text(fork["spec"], changes)
        except SpecError as e:
            return (*_refused(e), no_update, no_update)
        classes = ["mb-2"] * len(FIELD_NAMES)
        if not starting:
            return _message(text, "info"), classes, no_update, no_update
        notes: list[str] = []
        try:
            fork_id = prepare_fork(open_db(config.db_url), fork["run"], fork["at"], changes, notes=notes,
                                   force=force)
        except Refused as e:
            return _message(f"Refused — {e}. Nothing was started.", "error"), classes, no_update, no_update
        started = ["Started fork ", dcc.Link(f"run #{fork_id}", href=f"/run/{fork_id}"),
                   f" of run #{fork['run']} at epoch {fork['at']}.", *[html.Div(n) for n in notes]]
        return _message(started), classes, _watch(watched, [fork_id]), kick(1)

    @app.callback(
        Output(ids.SWEEPS_SUMMARY, "children"),
        Output(ids.ACTIVE_RUNS, "children"),
        Output(ids.FINISHED_RUNS, "children"),
        Output(ids.LIVE_CURVES, "figure"),
        Output(ids.LIVE_TITLE, "children"),
        Output(ids.WORKERS_KICK, "data", allow_duplicate=True),
        Input(ids.ACTIVE_INTERVAL, "n_intervals"),
        Input(ids.SWEEPS_OPEN, "data"),
        State(ids.WATCHED_RUNS, "data"),
        prevent_initial_call="initial_duplicate",
    )
    def refresh_active(_n, opened, watched):
        from storage import reads, writes
        from storage.db import open_db

        db = open_db(config.db_url)
        writes.mark_crashed_runs(db)
        watched = watched or {}
        mine = watched.get("runs", [])
        runs = {r.id: r for r in reads.run_progress(db, run_ids=mine, active=True)}
        active = [r for r in runs.values() if r.status in ("queued", "running")]
        finished = [runs[i] for i in mine if i in runs and runs[i].status not in ("queued", "running")]
        sweeps = [sweep_summary(s["name"], [runs[i] for i in s["runs"] if i in runs], s["name"] in (opened or []))
                  for s in watched.get("sweeps", [])]
        running = sorted((r for r in active if r.status == "running"), key=lambda r: r.id)
        queued = [r for r in active if r.status == "queued"]
        cards = [run_progress_card(r) for r in (running + queued)[:ACTIVE_CARDS]]
        if len(active) > ACTIVE_CARDS:
            cards.append(html.Div(f"+ {len(active) - ACTIVE_CARDS} more queued", className="small text-muted"))
        focus = next((r for r in running if r.id in mine), None) or (running[0] if running else None) \
            or (finished[0] if finished else None)
        if focus is None:
            fig, title = training_curves_figure({}), "Live curves"
        else:
            hist = reads.get_metric_history(db, focus.id, ["train_loss", "val_loss", "train_accuracy",
                                                          "val_accuracy"])
            fig, title = training_curves_figure(hist), f"Live curves: run #{focus.id} ({focus.status})"
        # Runs queued a while ago that no worker took (the workers had exited, say): start workers.
        stale = sum(1 for r in queued if seconds_since(r.created_at) > AUTO_KICK_AFTER_S)
        return (sweeps, cards or html.Div("No run is queued or running.", className="text-muted"),
                [finished_run_line(r) for r in finished[:FINISHED_SHOWN]]
                or html.Div("Runs started here appear here when they end.", className="text-muted"),
                fig, title, kick(stale) if stale else no_update)

    app.clientside_callback(
        """function (clicks, opened) {
            const t = dash_clientside.callback_context.triggered;
            if (!t || !t.length || !t[0].value) { return dash_clientside.no_update; }
            const name = JSON.parse(t[0].prop_id.split(".")[0]).name;
            const now = (opened || []).filter(n => n !== name);
            return now.length === (opened || []).length ? now.concat([name]) : now;
        }""",
        Output(ids.SWEEPS_OPEN, "data"),
        Input({"type": ids.SWEEP_TOGGLE, "name": ALL}, "n_clicks"),
        State(ids.SWEEPS_OPEN, "data"),
        prevent_initial_call=True,
    )

    # A Cancel button is a pattern-matching input, and the cards are redrawn every second: the click is
    # caught in the browser, so only a real click reaches the server.
    app.clientside_callback(
        """function (clicks) {
            const t = dash_clientside.callback_context.triggered;
            if (!t || !t.length || !t[0].value) { return dash_clientside.no_update; }
            const id = JSON.parse(t[0].prop_id.split(".")[0]);
            return {run: id.run, at: Date.now()};
        }""",
        Output(ids.CANCEL_REQUEST, "data"),
        Input({"type": ids.CANCEL_RUN, "run": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )

    @app.callback(
        Output(ids.LAUNCH_MESSAGE, "children", allow_duplicate=True),
        Input(ids.CANCEL_REQUEST, "data"),
        prevent_initial_call=True,
    )
    def cancel_run(request):
        if not request:
            raise PreventUpdate
        from storage import writes
        from storage.db import RunNotFound, open_db

        run_id = int(request["run"])
        try:
            before = writes.request_cancel(open_db(config.db_url), run_id)
        except RunNotFound:
            return _message(f"Run #{run_id} no longer exists.", "warn")
        if before == "cancelled":
            return _message(f"Run #{run_id} cancelled before it started.")
        if before == "running":
            return _message(f"Run #{run_id} stops at the end of its current epoch; its epochs are kept.")
        return _message(f"Run #{run_id} had already {before}: nothing to cancel.", "warn")


def _experiment_exists(db_url: str, name: str) -> bool:
    from storage import reads
    from storage.db import open_db

    return reads.experiment_exists(open_db(db_url), name)
