"""Lessons page and the Run page's Ablate tab and event list: thin callbacks over testable presenters.

Launching goes through ONE injected function (lessons/launch.py), chosen in `dashboard_launch`: today
`launch_queued`, which queues the runs; warm workers (jobs/worker.py) train queued runs, so Run kicks the
job slot (callbacks/jobs.py) to start them, like the Launch page's Start does.
"""

from __future__ import annotations

from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.figures.lessons import VERDICT_COLORS, verdict_figure

from .launch import kick

MAX_SEEDS = 50


def dashboard_launch():
    """The launch function the dashboard uses (lessons/launch.py): queue the runs for the job slots.
    Lead: swap in the sweep path here."""
    from lessons.launch import launch_queued

    return launch_queued
ABLATE_HIDDEN_KNOBS = {"seed", "name", "experiment", "tags", "snapshots", "snapshot_budget_mb", "data_dir"}


def stored_plan_data(db_url: str, lesson) -> dict | None:
    """The card's plan when every run of the lesson's default seeds already exists (a revisit shows it)."""
    from lessons.runner import existing_runs, lesson_plan

    found = existing_runs(db_url, lesson_plan(lesson))
    if any(i is None for i in found):
        return None
    return {"kind": "lesson", "lesson": lesson.name, "seeds": lesson.seeds, "run_ids": found}


def plan_from_data(db_url: str, data: dict):
    """Rebuild a Plan from a card's or the Ablate tab's stored data."""
    from lessons.definitions import get_lesson
    from lessons.runner import lesson_plan

    if data["kind"] == "lesson":
        return lesson_plan(get_lesson(data["lesson"]), data["seeds"])
    from lessons.ablate import ablation_plan
    from lessons.metrics import parse_metric
    from storage import reads
    from storage.db import open_db

    run = reads.get_run(open_db(db_url), data["run"])
    return ablation_plan(run.id, run.spec, data["changes"], data["seeds"], parse_metric(data["metric"]))


def compare_href(run_ids: list[int], group: str) -> str:
    """The Compare page with these runs, grouped by the varied knob (mean ± std across seeds)."""
    return "/compare?" + urlencode({"runs": ",".join(map(str, run_ids)), "group": group})


def progress_line(states: dict) -> tuple[str, int]:
    """('4 of 10 runs finished · epochs 120/200', 60)."""
    from lessons.runner import progress_of

    done, epochs, planned = progress_of(states)
    failed = sum(1 for s in states.values() if s["status"] in ("failed", "crashed", "cancelled"))
    text = f"{done} of {len(states)} runs finished · epochs {epochs}/{planned}"
    if failed:
        text += f" · {failed} did not complete"
    return text, int(100 * epochs / max(planned, 1))


def verdict_view(db_url: str, plan, run_ids: list[int]):
    """(verdict component, figure) from the runs finished so far."""
    from lessons.report import verdict_sentence
    from lessons.runner import evaluate_all

    outcomes = evaluate_all(db_url, plan, run_ids)
    c = outcomes[0].comparison
    rows = [html.Div([dbc.Badge(c.verdict, color="light", text_color="dark", className="me-2 verdict-badge",
                                style={"border": f"2px solid {VERDICT_COLORS.get(c.verdict, '#666')}"}),
                      html.Span(verdict_sentence(plan, outcomes[0]), className="small verdict-text")])]
    for o in outcomes[1:]:
        rows.append(html.Div("Also: " + verdict_sentence(plan, o), className="small text-muted"))
    fig = verdict_figure(c.a, c.b, plan.labels, plan.metric.text if c.metric == plan.metric.text else c.metric,
                         effect=c.effect, ci=(c.ci_low, c.ci_high), verdict=c.verdict)
    return html.Div(rows, className="lesson-verdict"), fig


def plan_view(db_url: str, data: dict, seen: int | None):
    """(progress, verdict or no_update, figure or no_update, compare href, finished count) for a stored plan;
    the verdict is recomputed only when more runs have finished than at the last look (`seen`)."""
    from storage.events import backfill_events
    from storage.db import open_db
    from storage.lessons import run_states

    run_ids = data["run_ids"]
    states = run_states(open_db(db_url), run_ids)
    text, pct = progress_line(states)
    done = sum(1 for s in states.values() if s["status"] in ("completed", "cancelled", "failed", "crashed"))
    progress = html.Div([dbc.Progress(value=pct, className="my-1", style={"height": "6px"}),
                         html.Span(text, className="lesson-progress-text")])
    plan = plan_from_data(db_url, data)
    group = plan.specs[0].to_dict()
    varied = [k for k in group if k not in ("seed", "name") and plan.specs[-1].to_dict()[k] != group[k]]
    href = compare_href(run_ids, varied[0] if varied else "seed")
    if done == seen or done == 0:
        return progress, no_update, no_update, href, done
    backfill_events(open_db(db_url), [i for i, s in states.items() if s["status"] != "running"])
    verdict, fig = verdict_view(db_url, plan, run_ids)
    return progress, verdict, fig, href, done


def run_events_list(events: list[dict]):
    """The Run page's list of event notes, one line each."""
    if not events:
        return html.Div("No events: no divergence, plateau or overfitting onset in this run's curves.",
                        className="text-muted small")
    return html.Ul([html.Li([html.B(f"epoch {e['epoch']} · {e['kind']}: "), e["message"]], className="small")
                    for e in events], className="run-events mb-1")


def ablate_knobs(spec: dict) -> list[str]:
    """Knobs the Ablate form offers for a run: the settings its family uses (the launch form's), minus seed."""
    from engine.spec import parse_spec

    try:
        return [k for k in parse_spec(spec).params() if k not in ABLATE_HIDDEN_KNOBS]
    except Exception:
        return []


def start_ablation(db_url: str, run_id: int, knob: str, value, seeds, metric: str):
    """Validate and launch an ablation; returns (message, ok, plan data or None, new run count)."""
    from engine.spec import SpecError
    from lessons.ablate import ablation_plan
    from lessons.metrics import MetricError, parse_metric
    from lessons.runner import launch_plan
    from storage import reads
    from storage.db import open_db

    run = reads.get_run(open_db(db_url), run_id)
    if run is None or not knob:
        return "Choose a knob to change.", False, None, 0
    try:
        k = int(seeds or 0)
        if not 1 <= k <= MAX_SEEDS:
            raise SpecError("seeds", f"must be between 1 and {MAX_SEEDS}, got {seeds}")
        m = parse_metric(metric or "val_accuracy:best")
        plan = ablation_plan(run.id, run.spec, {knob: "" if value is None else str(value)}, k, m)
    except (SpecError, MetricError, ValueError) as e:
        return f"Refused — {e}. Nothing was started.", False, None, 0
    launched = launch_plan(plan, db_url, dashboard_launch())
    data = {"kind": "ablation", "run": run.id, "changes": {knob: str(value)}, "seeds": k, "metric": m.text,
            "run_ids": launched.run_ids}
    return (f"Ablation '{plan.experiment}': {len(launched.run_ids)} runs, {launched.reused} reused, "
            f"{len(launched.new_ids)} queued."), True, data, len(launched.new_ids)


def launch_lesson(db_url: str, name: str, seeds) -> tuple[dict, int]:
    """Queue a lesson's runs (reusing finished ones) at `seeds` (the lesson's own when not a valid count);
    returns the card's plan data and how many runs were queued."""
    from lessons.definitions import get_lesson
    from lessons.runner import launch_plan, lesson_plan

    lesson = get_lesson(name)
    k = int(seeds) if isinstance(seeds, int | float) and 1 <= seeds <= MAX_SEEDS else lesson.seeds
    launched = launch_plan(lesson_plan(lesson, k), db_url, dashboard_launch())
    return {"kind": "lesson", "lesson": name, "seeds": k, "run_ids": launched.run_ids}, len(launched.new_ids)


def register(app, config) -> None:
    db_url = config.db_url
    kick_out = Output(ids.WORKERS_KICK, "data", allow_duplicate=True)

    @app.callback(Output({"type": ids.LESSON_PLAN, "lesson": ALL}, "data"), kick_out,
                  Input({"type": ids.LESSON_RUN, "lesson": ALL}, "n_clicks"), Input(ids.LESSONS_RUN_ALL, "n_clicks"),
                  State({"type": ids.LESSON_SEEDS, "lesson": ALL}, "value"), prevent_initial_call=True)
    def run_lesson(clicks, all_clicks, seeds):
        """Run one card's lesson, or with Run all every card's (each at its card's seeds)."""
        if not ctx.triggered_id or not (any(clicks) or all_clicks):
            raise PreventUpdate
        names = [o["id"]["lesson"] for o in ctx.inputs_list[0]]
        chosen = names if ctx.triggered_id == ids.LESSONS_RUN_ALL else [ctx.triggered_id["lesson"]]
        plans = {name: launch_lesson(db_url, name, seeds[names.index(name)]) for name in chosen}
        new = sum(n for _, n in plans.values())
        return [plans[n][0] if n in plans else no_update for n in names], kick(new) if new else no_update

    @app.callback(Output({"type": ids.LESSON_PROGRESS, "lesson": ALL}, "children"),
                  Output({"type": ids.LESSON_VERDICT, "lesson": ALL}, "children"),
                  Output({"type": ids.LESSON_FIGURE, "lesson": ALL}, "figure"),
                  Output({"type": ids.LESSON_COMPARE, "lesson": ALL}, "href"),
                  Output({"type": ids.LESSON_COMPARE, "lesson": ALL}, "style"),
                  Output({"type": ids.LESSON_SEEN, "lesson": ALL}, "data"),
                  Input(ids.LESSONS_INTERVAL, "n_intervals"),
                  Input({"type": ids.LESSON_PLAN, "lesson": ALL}, "data"),
                  State({"type": ids.LESSON_SEEN, "lesson": ALL}, "data"))
    def refresh_lessons(_n, plans, seen):
        n = len(plans)
        out = [[no_update] * n for _ in range(6)]
        plan_changed = isinstance(ctx.triggered_id, dict) and ctx.triggered_id.get("type") == ids.LESSON_PLAN
        for i, data in enumerate(plans):
            if not data:
                continue
            prev = seen[i] or {}
            fresh = plan_changed and ctx.triggered_id["lesson"] == data.get("lesson")
            last_done = prev.get("done") if prev.get("run_ids") == data["run_ids"] and not fresh else None
            prog, verdict, fig, href, done = plan_view(db_url, data, last_done)
            out[0][i], out[1][i], out[2][i], out[3][i] = prog, verdict, fig, href
            out[4][i] = {"display": "inline"}
            out[5][i] = {"run_ids": data["run_ids"], "done": done}
        return tuple(out)

    @app.callback(Output(ids.ABLATE_MESSAGE, "children"), Output(ids.ABLATE_PLAN, "data"), kick_out,
                  Input(ids.ABLATE_START, "n_clicks"), State(ids.RUN_ID, "data"), State(ids.ABLATE_KNOB, "value"),
                  State(ids.ABLATE_VALUE, "value"), State(ids.ABLATE_SEEDS, "value"),
                  State(ids.ABLATE_METRIC, "value"), prevent_initial_call=True)
    def ablate(n, run_id, knob, value, seeds, metric):
        if not n or run_id is None:
            raise PreventUpdate
        text, ok, data, new = start_ablation(db_url, run_id, knob, value, seeds, metric)
        message = dbc.Alert(text, color="success" if ok else "danger", className="py-1 small mb-1")
        return message, data if ok else no_update, kick(new) if ok and new else no_update

    @app.callback(Output(ids.ABLATE_PROGRESS, "children"), Output(ids.ABLATE_VERDICT, "children"),
                  Output(ids.ABLATE_FIGURE, "figure"),
                  Input(ids.ABLATE_INTERVAL, "n_intervals"), Input(ids.ABLATE_PLAN, "data"))
    def refresh_ablation(_n, data):
        if not data:
            raise PreventUpdate
        prog, verdict, fig, href, _done = plan_view(db_url, data, None)
        link = html.A("Compare these runs", href=href, className="small")
        return html.Div([prog, link]), verdict, fig

    @app.callback(Output(ids.RUN_EVENTS, "children"), Output(ids.ABLATE_KNOB, "options"),
                  Input(ids.RUN_INTERVAL, "n_intervals"), State(ids.RUN_ID, "data"))
    def run_events(_n, run_id):
        if run_id is None:
            raise PreventUpdate
        from storage import reads
        from storage.db import open_db

        run = reads.get_run(open_db(db_url), run_id)
        if run is None:
            raise PreventUpdate
        return run_events_list(events_for_display(db_url, run)), ablate_knobs(run.spec)


def events_for_display(db_url: str, run) -> list[dict]:
    """A run's stored events; a finished run without any gets them computed (and stored) now."""
    from storage.db import open_db
    from storage.events import get_events, record_events, runs_without_events

    db = open_db(db_url)
    if run.status not in ("queued", "running") and runs_without_events(db, run_ids=[run.id]):
        record_events(db, run.id)
    return get_events(db, [run.id])[run.id]


