"""Compare page: curves (overlaid or grouped mean ± std), parallel coordinates, scatter, config diff."""

from __future__ import annotations

from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import Input, Output, html

from dashboard import ids
from dashboard.figures.common import differing_keys, run_label
from dashboard.figures.curves import compare_curves_figure, grouped_band_figure
from dashboard.figures.hparams import param_scatter_figure, parallel_coordinates_figure

HIDDEN_DIFF_KEYS = {"name", "experiment", "tags"}
DIFF_MAX_RUNS = 12


def diff_table(runs, keys: list[str]):
    """A table with one column per run and one row per hyperparameter that differs."""
    if len(runs) < 2:
        return html.Div("Select two or more runs to see what differs.", className="text-muted small")
    if not keys:
        return html.Div("The selected runs share every setting.", className="text-muted small")
    header = html.Thead(html.Tr([html.Th("setting")] + [html.Th(f"#{r.id}") for r in runs]))
    body = html.Tbody([html.Tr([html.Td(html.Code(k))] + [html.Td(str(r.spec.get(k, r.params.get(k))))
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


def build_comparison(engine, run_ids: list[int], *, metric: str = "accuracy", splits=("train", "val"),
                     smooth: float = 0.0, x: str = "epoch", log: bool = False, group: str | None = None,
                     param: str | None = None, final: str = "val_accuracy"):
    """Everything the Compare page shows for a selection: curves, parallel coordinates, scatter, diff."""
    from storage import reads

    runs = reads.list_runs(engine, run_ids=run_ids, limit=len(run_ids), reap=False) if run_ids else []
    params = {r.id: r.params for r in runs}
    keys = [k for k in differing_keys(params) if k not in HIDDEN_DIFF_KEYS]
    labels = {r.id: run_label(r.id, r.params, keys, r.name) for r in runs}
    if group and runs:
        key = f"{(list(splits) or ['val'])[-1]}_{metric}"
        curves = grouped_band_figure(reads.grouped_metric_stats(engine, key, [group], run_ids=run_ids), key,
                                     log_y=log)
    else:
        wanted = [f"{s}_{metric}" for s in splits] + ["epoch_seconds"]
        histories = reads.get_metric_histories(engine, run_ids, wanted) if runs else {}
        curves = compare_curves_figure({r.id: histories.get(r.id, {}) for r in runs}, labels, metric,
                                       splits=list(splits), smoothing=smooth, x=x, log_y=log,
                                       forks={r.id: (r.parent_run_id, r.fork_epoch) for r in runs if r.fork_epoch})
        if x == "epoch" and runs:
            from dashboard.figures.lessons import add_event_markers
            from storage.lessons import get_events

            events = get_events(engine, [r.id for r in runs])
            add_event_markers(curves, [{**e, "message": f"#{rid}: {e['message']}"} for rid in events
                                       for e in events[rid]][:30])
    finals = {r.id: r.summary.get(final, {}).get("last") for r in runs}
    par = parallel_coordinates_figure(params, finals, keys, final)
    scatter = param_scatter_figure(params, finals, param or (keys[0] if keys else ""), final, labels=labels)
    detailed = [reads.get_run(engine, r.id) for r in runs[:DIFF_MAX_RUNS]]
    diff_keys = [k for k in differing_keys({r.id: r.spec for r in detailed}) if k not in HIDDEN_DIFF_KEYS]
    query = compare_query(run_ids, metric, list(splits), smooth, x, log, group, param, final)
    return curves, par, scatter, diff_table(detailed, diff_keys), query


# The page's settings, in the order build_comparison's callback takes them.
SETTINGS = (Input(ids.CMP_RUNS, "value"), Input(ids.CMP_METRIC, "value"), Input(ids.CMP_SPLITS, "value"),
            Input(ids.CMP_SMOOTH, "value"), Input(ids.CMP_X, "value"), Input(ids.CMP_LOG, "value"),
            Input(ids.CMP_GROUP, "value"), Input(ids.CMP_SCATTER_PARAM, "value"), Input(ids.CMP_FINAL, "value"))


def register(app, config) -> None:
    def db():
        from storage.db import open_db

        return open_db(config.db_url)

    @app.callback(
        Output(ids.CMP_CURVES, "figure"),
        Output(ids.CMP_PARCOORDS, "figure"),
        Output(ids.CMP_SCATTER, "figure"),
        Output(ids.CMP_DIFF, "children"),
        *SETTINGS,
    )
    def update(run_ids, metric, splits, smooth, x, log, group, param, final):
        return build_comparison(db(), list(run_ids or []), metric=metric, splits=splits or [], smooth=smooth or 0,
                                x=x, log=bool(log), group=group, param=param, final=final or "val_accuracy")[:4]

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
