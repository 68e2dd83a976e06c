"""Inside views: the run page's Inside tab (epoch slider, play button) and the compare page's
side-by-side section. Snapshots are read at the latest recorded epoch at or before the chosen one."""

from __future__ import annotations

from dataclasses import dataclass, field

import dash_bootstrap_components as dbc
import numpy as np
import plotly.graph_objects as go
from dash import Input, Output, State, ctx, html
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.components.inside import VIEWS, view_card
from dashboard.figures import inside as figs
from dashboard.figures.common import differing_keys, empty_figure, run_colors, run_label
from engine.spec import used_settings

MAX_COMPARE = 4


@dataclass
class RunSnapshots:
    """One run's snapshot index and probe record, and reads at an epoch."""

    engine: object
    run_id: int
    model: str = ""
    index: dict = field(default_factory=dict)
    probe: dict = field(default_factory=dict)

    @classmethod
    def load(cls, engine, run_id: int, model: str = "") -> RunSnapshots:
        from storage.snapshots import read_kind, snapshot_index

        index = snapshot_index(engine, run_id)
        probe = read_kind(engine, run_id, "probe", 0) if "probe" in index else {}
        return cls(engine, run_id, model, index, probe)

    @property
    def meta(self) -> dict:
        return self.probe.get("meta") or {}

    def at(self, kind: str, epoch: int) -> tuple[int | None, dict]:
        from storage.snapshots import read_kind_near

        return read_kind_near(self.engine, self.run_id, kind, epoch, self.index)

    def epochs(self) -> list[int]:
        return sorted({e for kind, es in self.index.items() if kind not in ("probe", "note") for e in es})

    def example(self, i) -> int:
        """A valid probe example: `i` clamped, or (None: nothing chosen) the longest sequence."""
        if i is None or i == "":
            return int((self.meta.get("focus_examples") or [0])[0])
        n = len(self.probe.get("y", [])) or 1
        return min(max(int(i), 0), n - 1)

    def focus(self, i) -> tuple[int, int]:
        """(probe example, its position among the examples whose full maps were kept): `i` itself
        when it was kept, else the first kept one (the longest sequence)."""
        kept = list(self.meta.get("focus_examples") or [0])
        i = self.example(i)
        return (i, kept.index(i)) if i in kept else (kept[0], 0)

    def tokens(self, i: int, which: str = "x") -> tuple[list[str], np.ndarray]:
        """Words of probe sequence `i` (its input 'x' or target 'y') and the positions kept (padding dropped)."""
        seq = np.asarray(self.probe.get(which, []))
        if seq.ndim != 2:
            return [], np.arange(0)
        row = seq[self.example(i)].astype(int)
        pad = self.meta.get("pad_id")
        keep = np.flatnonzero(row != pad) if pad is not None else np.arange(len(row))
        return figs.token_labels(row[keep], self.meta.get("token_names") or []), keep


# --- one view from one or more runs --------------------------------------------------------------------

def _params(runs, epoch):
    return {label: r.at("stats", epoch)[1].get("params", {}).get("rows") for label, r in runs.items()}


def _layers(runs, epoch):
    return {label: r.at("stats", epoch)[1].get("layers") for label, r in runs.items()}


def _confidence(runs, epoch, example, colors=None):
    first = next(iter(runs.values()))
    example = first.example(example)
    which = "y" if first.meta.get("task") == "seq2seq" else "x"
    words, keep = first.tokens(example, which)
    conf = {}
    for label, r in runs.items():
        p = r.at("confidence", epoch)[1].get("p_true")
        if p is not None:
            row = np.asarray(p, dtype=float)[r.example(example)]
            conf[label] = row[keep[keep < len(row)]] if len(keep) else row
    what = "P(right token)" if which == "y" else "P(right label) after each word"
    return figs.confidence_figure(conf, words, what=what, title=f"probe example {example}", colors=colors)


def _attention_maps(run: RunSnapshots, epoch: int, position: int) -> list[np.ndarray]:
    maps = run.at("attention", epoch)[1]
    ordered = [maps[k] for k in sorted(maps, key=lambda k: int(k.rsplit(".", 1)[-1]))]
    return [np.asarray(m, dtype=float)[min(position, len(m) - 1)] for m in ordered]


def _attention(runs, epoch, example, layer, by_layer: bool):
    first = next(iter(runs.values()))
    example, position = first.focus(example)
    key_words, key_keep = first.tokens(example, "x")
    if first.model == "seq2seq":  # queries are output steps
        query_words, query_keep = first.tokens(example, "y")
    else:
        query_words, query_keep = key_words, key_keep
    rows = {}
    for label, r in runs.items():
        maps = _attention_maps(r, epoch, position)
        chosen = list(enumerate(maps)) if by_layer else ([(min(layer, len(maps) - 1), maps[min(layer, len(maps) - 1)])]
                                                          if maps else [])
        for i, m in chosen:
            m = m[:, query_keep[query_keep < m.shape[1]]][:, :, key_keep[key_keep < m.shape[2]]]
            rows[f"layer {i + 1}" if by_layer else label] = m
    return figs.attention_figure(rows, query_words, key_words, title=f"probe example {example}")


def _images(run: RunSnapshots, indices) -> list[np.ndarray]:
    """Probe images (side, side); a multi-channel image shows its channel mean."""
    x = np.asarray(run.probe.get("x", []), dtype=float)
    side = int(run.meta["image_side"])
    return [x[i].reshape(-1, side, side).mean(axis=0) for i in indices]


def _wrong(run: RunSnapshots, epoch: int):
    rows = run.at("wrong", epoch)[1].get("probe") or []
    meta = run.meta
    names = meta.get("label_names") or [str(i) for i in range(meta.get("n_classes", 0))]
    def name(c):
        return names[c] if c is not None and c < len(names) else str(c)

    if not rows:
        return html.Div("No probe example is wrong at this epoch.", className="text-muted small")
    if meta.get("image_side"):
        captions = [f"{name(r.get('label'))} → {name(r.get('predicted'))} ({r['confidence']:.0%})" for r in rows]
        return figs.image_panels_figure(_images(run, [r["probe"] for r in rows]), captions)
    body = []
    for r in rows:
        words = " ".join(run.tokens(r["probe"], "x")[0]) if np.ndim(run.probe.get("x")) == 2 and \
            meta.get("token_names") else str(np.round(np.asarray(run.probe["x"])[r["probe"]], 2).tolist())
        answer = (f"{name(r.get('label'))} → {name(r.get('predicted'))}" if "label" in r
                  else f"{r.get('wrong_tokens')} tokens wrong")
        body.append(html.Tr([html.Td(r["probe"]), html.Td(words), html.Td(answer), html.Td(f"{r['confidence']:.0%}")]))
    head = html.Thead(html.Tr([html.Th("probe #"), html.Th("input"), html.Th("true → predicted"), html.Th("conf.")]))
    return html.Div(dbc.Table([head, html.Tbody(body)], size="sm", striped=True, className="small"))


def _gates(run: RunSnapshots, epoch: int):
    """Per-unit gates of the first recurrent layer on probe sequence 0 (padding dropped)."""
    words, keep = run.tokens(run.focus(0)[0], "x")
    stored = run.at("gates", epoch)[1]
    if not stored:
        return figs.gates_figure({}, words)
    layer = min(stored).rsplit(".", 1)[0]
    gates = {k.rsplit(".", 1)[-1]: np.asarray(v, dtype=float)[0] for k, v in stored.items()
             if k.rsplit(".", 1)[0] == layer}
    return figs.gates_figure({g: v[keep[keep < len(v)]] for g, v in gates.items()}, words)


def build_view(view: str, runs: dict[str, RunSnapshots], epoch: int, example: int | None = None, layer: int = 0, *,
               single: bool = False, colors: dict[str, str] | None = None):
    """The figure (or table) of `view` for the runs at `epoch`, side by side when there are several;
    `colors` (label -> colour) keeps each run in its colour on the page."""
    first = next(iter(runs.values()))
    if view == "boundary":
        extent, x, y = first.meta.get("extent"), first.probe.get("x"), first.probe.get("y")
        grids = {label: r.at("boundary", epoch)[1].get("proba") for label, r in runs.items()}
        return figs.boundary_figure(grids, extent, points=x, labels=y)
    if view == "gradients":
        return figs.gradient_flow_figure(_params(runs, epoch), colors=colors)
    if view == "activations":
        return figs.activation_depth_figure(_layers(runs, epoch), colors=colors)
    if view == "attention":
        return _attention(runs, epoch, example, layer, by_layer=single)
    if view == "heads":
        return figs.head_stats_figure({label: r.at("attention_heads", epoch)[1].get("stats")
                                       for label, r in runs.items()}, colors=colors)
    if view == "confidence":
        return _confidence(runs, epoch, example, colors)
    if view == "recurrent":
        views = {}
        for label, r in runs.items():
            for name, v in r.at("recurrent", epoch)[1].items():
                views[label if len(runs) > 1 else name] = v
        return figs.recurrent_figure(views, colors=colors if len(runs) > 1 else None)
    if view == "gates":
        return _gates(first, epoch)
    if view == "filters":
        return figs.filters_figure({label: next(iter(r.at("filters", epoch)[1].values()), None) for label, r in runs.items()})
    if view == "feature_maps":
        if single:
            return figs.feature_maps_figure(first.at("feature_maps", epoch)[1], image=int(example or 0))
        maps = {}
        for label, r in runs.items():
            got = r.at("feature_maps", epoch)[1]
            if got:
                name = sorted(got)[min(layer, len(got) - 1)]
                maps[f"{label} · {name}"] = got[name]
        return figs.feature_maps_figure(maps, image=int(example or 0))
    if view == "confusion":
        names = first.meta.get("label_names") or []
        return figs.confusion_figure({label: r.at("confusion", epoch)[1].get("val") for label, r in runs.items()}, names)
    if view == "wrong":
        return _wrong(first, epoch)
    if view == "histograms":
        return figs.histograms_figure(first.at("histograms", epoch)[1].get("params"))
    return empty_figure(f"Unknown view {view!r}")


def run_views(run: RunSnapshots, epoch: int, example: int | None) -> list:
    """Every view that applies to this run (its kinds were recorded and hold something to draw)."""
    cards = []
    for view, (title, kind) in VIEWS.items():
        if kind not in run.index:
            continue
        body = build_view(view, {f"#{run.run_id}": run}, epoch, example, single=True)
        if isinstance(body, go.Figure) and not body.data:  # e.g. no activation layers in an LSTM
            continue
        at = run.at(kind, epoch)[0]
        shown = f" · epoch {at}" + ("" if at == epoch else f" (nearest recorded to {epoch})")
        cards.append(view_card(view, title + shown, body))
    return cards


def notes(run: RunSnapshots) -> list:
    """Alerts for the run's snapshot notes (budget, errors)."""
    out = []
    for epoch in run.index.get("note", []):
        for name, v in run.at("note", epoch)[1].items():
            out.append(dbc.Alert(f"snapshots ({name}): {v.get('text', '')}".splitlines()[0], color="secondary",
                                 className="small py-1 mb-1"))
    return out


def slider_marks(epochs: list[int]) -> dict:
    """Marks at the log-spaced recorded epochs (0, 1, 2, 4, ...) and the last one."""
    last = max(epochs) if epochs else 0
    shown = [e for e in epochs if e == 0 or e == last or (e & (e - 1)) == 0]
    return {int(e): str(e) for e in shown}


# --- callbacks -----------------------------------------------------------------------------------

def register(app, config) -> None:
    register_run_tab(app, config)
    register_compare(app, config)


def _opener(config):
    def db():
        from storage.db import open_db

        return open_db(config.db_url)

    return db


def register_run_tab(app, config) -> None:
    """The run page's Inside tab: index refresh (live), views at the chosen epoch, play/pause."""
    db = _opener(config)

    @app.callback(
        Output(ids.INSIDE_INDEX, "data"),
        Output(ids.INSIDE_EPOCH, "max"),
        Output(ids.INSIDE_EPOCH, "marks"),
        Output(ids.INSIDE_EPOCH, "value"),
        Input(ids.RUN_ID, "data"),
        Input(ids.RUN_INTERVAL, "n_intervals"),
        State(ids.INSIDE_INDEX, "data"),
        State(ids.INSIDE_EPOCH, "value"),
    )
    def refresh_index(run_id, _n, old, value):
        if run_id is None:
            raise PreventUpdate
        epochs = RunSnapshots.load(db(), run_id).epochs()
        if old is not None and old == epochs:
            raise PreventUpdate
        follow = value is None or not old or value >= max(old)  # at the newest epoch: keep following
        top = max(epochs) if epochs else 0
        return epochs, max(top, 1), slider_marks(epochs), top if follow else value

    @app.callback(
        Output(ids.INSIDE_VIEWS, "children"),
        Output(ids.INSIDE_EPOCH_LABEL, "children"),
        Input(ids.INSIDE_EPOCH, "value"),
        Input(ids.INSIDE_EXAMPLE, "value"),
        Input(ids.INSIDE_INDEX, "data"),
        State(ids.RUN_ID, "data"),
    )
    def show_views(epoch, example, epochs, run_id):
        if run_id is None or epochs is None:
            raise PreventUpdate
        if not epochs:
            return dbc.Alert("No snapshots for this run (snapshots off, or none recorded yet).", color="light"), ""
        run = RunSnapshots.load(db(), run_id, _run_model(db(), run_id))
        epoch = int(epoch or 0)
        return notes(run) + run_views(run, epoch, example), f"epoch {epoch}"

    @app.callback(
        Output(ids.INSIDE_TIMER, "disabled"),
        Output(ids.INSIDE_PLAY, "children"),
        Output(ids.INSIDE_EPOCH, "value", allow_duplicate=True),
        Input(ids.INSIDE_PLAY, "n_clicks"),
        State(ids.INSIDE_TIMER, "disabled"),
        State(ids.INSIDE_EPOCH, "value"),
        State(ids.INSIDE_INDEX, "data"),
        prevent_initial_call=True,
    )
    def toggle_play(_n, disabled, value, epochs):
        if not epochs:
            raise PreventUpdate
        start = 0 if value is None or value >= max(epochs) else value  # replay from the start at the end
        return (False, "❚❚ Pause", start) if disabled else (True, "▶ Play", value)

    @app.callback(
        Output(ids.INSIDE_EPOCH, "value", allow_duplicate=True),
        Output(ids.INSIDE_TIMER, "disabled", allow_duplicate=True),
        Output(ids.INSIDE_PLAY, "children", allow_duplicate=True),
        Input(ids.INSIDE_TIMER, "n_intervals"),
        State(ids.INSIDE_EPOCH, "value"),
        State(ids.INSIDE_INDEX, "data"),
        prevent_initial_call=True,
    )
    def step(_n, value, epochs):
        later = [e for e in epochs or [] if e > (value or 0)]
        if not later:
            return value, True, "▶ Play"
        return later[0], len(later) == 1, "▶ Play" if len(later) == 1 else "❚❚ Pause"


def register_compare(app, config) -> None:
    """The compare page's side-by-side section."""
    db = _opener(config)

    @app.callback(
        Output(ids.CMP_INSIDE_EPOCH, "max"),
        Output(ids.CMP_INSIDE_EPOCH, "marks"),
        Output(ids.CMP_INSIDE_EPOCH, "value"),
        Input(ids.CMP_RUNS, "value"),
        State(ids.CMP_INSIDE_EPOCH, "value"),
    )
    def compare_epochs(run_ids, current):
        """A new selection of runs starts at their newest recorded epoch; on page load, an epoch from
        the URL (?epoch=) is kept when the runs reach it."""
        runs = [RunSnapshots.load(db(), r) for r in (run_ids or [])[:MAX_COMPARE]]
        epochs = sorted(set().union(*[set(r.epochs()) for r in runs])) if runs else []
        top = max(epochs, default=0)
        first_load = ctx.triggered_id is None
        value = current if first_load and current is not None and 0 <= current <= top else top
        return max(top, 1), slider_marks(epochs), value

    @app.callback(
        Output(ids.CMP_INSIDE_FIGURE, "figure"),
        Output(ids.CMP_INSIDE_NOTE, "children"),
        Input(ids.CMP_BUILT, "data"),  # the selection, once its curves are built: they come first
        Input(ids.CMP_INSIDE_VIEW, "value"),
        Input(ids.CMP_INSIDE_EPOCH, "value"),
        Input(ids.CMP_INSIDE_EXAMPLE, "value"),
        Input(ids.CMP_INSIDE_LAYER, "value"),
    )
    def compare_view(run_ids, view, epoch, example, layer):
        run_ids = list(run_ids or [])
        if len(run_ids) < 1 or not view:
            return empty_figure("Select 2 to 4 runs to compare what they learned"), ""
        runs, note = compare_runs(db(), run_ids[:MAX_COMPARE])
        if len(run_ids) > MAX_COMPARE:
            note += f" Showing the first {MAX_COMPARE} runs."
        page_colors = run_colors(run_ids)  # the colours of the page's other figures
        colors = {label: page_colors[r.run_id] for label, r in runs.items()}
        fig = build_view(view, runs, int(epoch or 0), example, int(layer or 0), colors=colors)
        return fig, note


def _run_model(engine, run_id: int) -> str:
    from storage import reads

    run = reads.get_run(engine, run_id)
    return run.model if run else ""


def compare_runs(engine, run_ids: list[int]) -> tuple[dict[str, RunSnapshots], str]:
    """Label -> snapshots of each run (labels name the settings that differ), and a note when the runs
    did not see the same probe inputs."""
    from storage import reads

    rows = reads.list_runs(engine, run_ids=run_ids, limit=len(run_ids))
    by_id = {r.id: r for r in rows}
    rows = [by_id[i] for i in run_ids if i in by_id]
    params = {r.id: used_settings(r.params) for r in rows}
    keys = [k for k in differing_keys(params) if k not in ("name", "experiment", "tags")]
    runs = {run_label(r.id, params[r.id], keys): RunSnapshots.load(engine, r.id, r.model) for r in rows}
    probes = {(r.meta.get("dataset"), tuple(np.asarray(r.probe.get("index", [])).tolist())) for r in runs.values()}
    note = "Same probe inputs for every run." if len(probes) == 1 else \
        "These runs used different data sets or probes: panels show different inputs."
    return runs, note
