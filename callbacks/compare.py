"""Compare page: curves (overlaid or grouped mean ± std), parallel coordinates, scatter, config diff."""

from __future__ import annotations

from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import Input, Output, State, html
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.figures.common import differing_keys, run_colors, run_label
from dashboard.figures.curves import compare_curves_figure, grouped_band_figure
from dashboard.figures.hparams import param_scatter_figure, parallel_coordinates_figure
from dashboard.pages.compare import run_option
from engine.spec import used_settings

HIDDEN_DIFF_KEYS = {"name", "experiment", "tags"}
DIFF_MAX_RUNS = 12


def diff_table(runs, keys: list[str], used: dict | None = None):
    """A table with one column per run and one row per setting that differs; '—' where a run does not
    use the setting (`used`: run id -> the settings it uses)."""
    if len(runs) < 2:
        return html.Div("Select two or more runs to see what differs.", className="text-muted small")
    if not keys:
        return html.Div("The selected runs share every setting.", className="text-muted small")
    header = html.Thead(html.Tr([html.Th("setting")] + [html.Th(f"#{r.id}") for r in runs]))
    used = used or {r.id: r.spec for r in runs}
    body = html.Tbody([html.Tr([html.Td(html.Code(k))] + [html.Td(str(used[r.id][k]) if k in used[r.id] else "—")
                                                          for r in runs]) for k in keys])
    return dbc.Table([header, body], size="sm", bordered=True, striped=True, className="small",
                     id="compare-diff-table")


def compare_query(runs, metric, splits, smooth, x, log, group, param, final, inside=None, epoch=None,
                  example=None, layer=None) -> str:
    """The URL query string that reproduces this comparison (the inside view's settings included)."""
    q = {"runs": ",".join(map(str, runs or [])), "metric": metric, "splits": ",".join(splits or []),
         "smooth": smooth, "x": x, "log": "1" if log else "0", "group": group or "", "param": param or "",
         "final": final, "inside": inside, "epoch": epoch, "example": example, "layer": layer or None}
    return "?" + urlencode({k: v for k, v in q.items() if v not in ("", None)})


def _selection(engine, run_ids: list[int]):
    """The selected runs (id order), each run's settings that apply to it, and the keys that differ."""
    from storage import reads

    runs = reads.list_runs(engine, run_ids=run_ids, limit=len(run_ids), sort="id", descending=False,
                           reap=False) if run_ids else []
    params = {r.id: used_settings(r.params) for r in runs}
    keys = [k for k in differing_keys(params) if k not in HIDDEN_DIFF_KEYS]
    return runs, params, keys


def comparison_curves(engine, run_ids: list[int], *, metric: str = "accuracy", splits=("train", "val"),
                      smooth: float = 0.0, x: str = "epoch", log: bool = False, group: str | None = None):
    """The Compare page's first figure: overlaid curves, or mean ± std bands when grouped."""
    from storage import reads

    runs, params, keys = _selection(engine, run_ids)
    if group and runs:
        key = f"{(list(splits) or ['val'])[-1]}_{metric}"
        return grouped_band_figure(reads.grouped_metric_stats(engine, key, [group], run_ids=run_ids), key,
                                   log_y=log)
    labels = {r.id: run_label(r.id, params[r.id], keys, r.name) for r in runs}
    wanted = [f"{s}_{metric}" for s in splits] + ["epoch_seconds"]
    histories = reads.get_metric_histories(engine, [r.id for r in runs], wanted) if runs else {}
    curves = compare_curves_figure({r.id: histories.get(r.id, {}) for r in runs}, labels, metric,
                                   splits=list(splits), smoothing=smooth, x=x, log_y=log,
                                   colors=run_colors([r.id for r in runs]),
                                   forks={r.id: (r.parent_run_id, r.fork_epoch) for r in runs if r.fork_epoch})
    if x == "epoch" and runs:  # divergence, plateau and overfitting notes on the curves
        from dashboard.figures.lessons import add_event_markers
        from storage.events import get_events

        events = get_events(engine, [r.id for r in runs])
        add_event_markers(curves, [{**e, "message": f"#{rid}: {e['message']}"} for rid in events
                                   for e in events[rid]][:30])
    return curves


def comparison_details(engine, run_ids: list[int], *, param: str | None = None, final: str = "val_accuracy"):
    """Parallel coordinates, the scatter (and the settings it offers, the one it shows) and the diff."""
    from storage import reads

    runs, params, keys = _selection(engine, run_ids)
    labels = {r.id: run_label(r.id, params[r.id], keys, r.name) for r in runs}
    finals = {r.id: r.summary.get(final, {}).get("last") for r in runs}
    param = param if param in keys else (keys[0] if keys else None)
    par = parallel_coordinates_figure(params, finals, keys, final)
    scatter = param_scatter_figure(params, finals, param or "", final, labels=labels,
                                   colors=run_colors([r.id for r in runs]))
    detailed = [reads.get_run(engine, r.id) for r in runs[:DIFF_MAX_RUNS]]
    specs = {r.id: used_settings(r.spec or r.params) for r in detailed}
    diff_keys = [k for k in differing_keys(specs) if k not in HIDDEN_DIFF_KEYS]
    options = [{"label": k, "value": k} for k in keys]
    return par, scatter, diff_table(detailed, diff_keys, specs), options, param


def build_comparison(engine, run_ids: list[int], *, metric: str = "accuracy", splits=("train", "val"),
                     smooth: float = 0.0, x: str = "epoch", log: bool = False, group: str | None = None,
                     param: str | None = None, final: str = "val_accuracy"):
    """Everything the Compare page shows for a selection: curves, parallel coordinates, scatter, diff."""
    curves = comparison_curves(engine, run_ids, metric=metric, splits=splits, smooth=smooth, x=x, log=log,
                               group=group)
    par, scatter, diff, _options, param = comparison_details(engine, run_ids, param=param, final=final)
    query = compare_query(run_ids, metric, list(splits), smooth, x, log, group, param, final)
    return curves, par, scatter, diff, query


SEARCH_RESULTS = 50


def run_options_for_search(engine, text: str, options: list[dict]) -> list[dict]:
    """The options already offered plus the runs matching `text` (a run id, or words of its name, tags,
    notes, model or data set), at most SEARCH_RESULTS of them."""
    from storage import reads

    text = text.lstrip("#")
    found = reads.list_runs(engine, search=text, limit=SEARCH_RESULTS, reap=False)
    if text.isdigit():
        found = reads.list_runs(engine, run_ids=[int(text)], limit=1, reap=False) + found
    out, seen = list(options), {o["value"] for o in options}
    for r in found:
        if r.id not in seen:
            seen.add(r.id)
            out.append(run_option(r))
    return out


# The page's settings, in the order build_comparison's callback takes them.
SETTINGS = (Input(ids.CMP_RUNS, "value"), Input(ids.CMP_METRIC, "value"), Input(ids.CMP_SPLITS, "value"),
            Input(ids.CMP_SMOOTH, "value"), Input(ids.CMP_X, "value"), Input(ids.CMP_LOG, "value"),
            Input(ids.CMP_GROUP, "value"), Input(ids.CMP_SCATTER_PARAM, "value"), Input(ids.CMP_FINAL, "value"))


def register(app, config) -> None:
    def db():
        from storage.db import open_db

        return open_db(config.db_url)

    # The curves first; the parallel coordinates, scatter and diff right after, so the browser paints what
    # a user came for first. The curves wait until the graph has drawn its placeholder: a graph's first
    # drawing is followed by a forced resize (a second full drawing), cheap for the placeholder, not for
    # hundreds of curves. The other figures are asked for with the selection the curves were built for
    # (Dash sends that request once the graph has drawn the curves). Building the curves earlier, while
    # plotly.js loads, and handing them over from a dcc.Store made the page slower: the browser's work on
    # the stored figure delayed the controls and the curves alike.
    app.clientside_callback(
        "function(relayout, ready) { return ready ? window.dash_clientside.no_update : true; }",
        Output(ids.CMP_GRAPH_READY, "data"),
        Input(ids.CMP_CURVES, "relayoutData"),
        State(ids.CMP_GRAPH_READY, "data"),
        prevent_initial_call=True,
    )

    @app.callback(Output(ids.CMP_CURVES, "figure"), Output(ids.CMP_BUILT, "data"), *SETTINGS[:7],
                  Input(ids.CMP_GRAPH_READY, "data"))
    def update_curves(run_ids, metric, splits, smooth, x, log, group, ready):
        if not ready:
            raise PreventUpdate
        run_ids = list(run_ids or [])
        figure = comparison_curves(db(), run_ids, metric=metric, splits=splits or [], smooth=smooth or 0, x=x,
                                   log=bool(log), group=group)
        return figure, run_ids

    @app.callback(
        Output(ids.CMP_PARCOORDS, "figure"),
        Output(ids.CMP_SCATTER, "figure"),
        Output(ids.CMP_DIFF, "children"),
        Output(ids.CMP_SCATTER_PARAM, "options"),
        Output(ids.CMP_SCATTER_PARAM, "value"),
        Input(ids.CMP_BUILT, "data"),
        Input(ids.CMP_SCATTER_PARAM, "value"),
        Input(ids.CMP_FINAL, "value"),
        prevent_initial_call=True,  # the curves' callback sets the selection it built on every load
    )
    def update_details(run_ids, param, final):
        if run_ids is None:
            raise PreventUpdate
        return comparison_details(db(), list(run_ids), param=param, final=final or "val_accuracy")

    @app.callback(Output(ids.CMP_RUNS, "options"), Input(ids.CMP_RUNS, "search_value"),
                  State(ids.CMP_RUNS, "options"), prevent_initial_call=True)
    def search_runs(text, options):
        """Typing in the Runs dropdown finds runs anywhere in the store (by id, name, tag, model, ...)."""
        if not text or not text.strip():
            raise PreventUpdate
        return run_options_for_search(db(), text.strip(), options or [])

    @app.callback(
        Output("compare-query", "data"),
        *SETTINGS,
        Input(ids.CMP_INSIDE_VIEW, "value"),
        Input(ids.CMP_INSIDE_EPOCH, "value"),
        Input(ids.CMP_INSIDE_EXAMPLE, "value"),
        Input(ids.CMP_INSIDE_LAYER, "value"),
    )
    def sync_query(run_ids, metric, splits, smooth, x, log, group, param, final, inside, epoch, example, layer):
        """Every setting of the page, inside view included, written to the address bar."""
        return compare_query(list(run_ids or []), metric, splits or [], smooth or 0, x, log, group, param,
                             final or "val_accuracy", inside, epoch, example, layer)

    # Keep the address bar in step without a page reload (dcc.Location would re-render the page).
    app.clientside_callback(
        """function(q) { if (q && window.location.search !== q) {
               window.history.replaceState(null, '', window.location.pathname + q); }
           return window.dash_clientside.no_update; }""",
        Output("compare-query", "id"),
        Input("compare-query", "data"),
    )
