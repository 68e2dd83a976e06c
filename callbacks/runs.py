"""Runs page: grid data (refreshed while runs are live), quick search, tags/notes edits, actions."""

from __future__ import annotations

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.components.progress import format_duration

GRID_LIMIT = 20_000
METRIC_COLUMNS = (("val_accuracy", "best"), ("val_accuracy", "last"), ("val_loss", "best"),
                  ("train_loss", "last"), ("train_accuracy", "last"), ("test_accuracy", "last"))
FIXED = ("id", "name", "status", "experiment", "model", "dataset", "epochs")


def run_row(run) -> dict:
    """Flatten a RunRow into one grid row: fixed columns, `param_<name>`, `<best|last>_<metric>`."""
    status = run.status + (" · diverged" if run.diverged else "")
    row = {"id": run.id, "link": f"[{run.id}](/run/{run.id})", "name": run.name, "status": status,
           "experiment": run.experiment, "model": run.model, "dataset": run.dataset,
           "epochs": f"{run.epochs_done}/{run.epochs_planned}", "duration": format_duration(run.duration_s),
           "duration_s": run.duration_s, "params_count": run.num_params, "tags": ", ".join(run.tags),
           "notes": run.notes or "", "created": run.created_at.strftime("%Y-%m-%d %H:%M:%S") if run.created_at else ""}
    for name, value in run.params.items():
        row[f"param_{name}"] = value
    for key, which in METRIC_COLUMNS:
        value = run.summary.get(key, {}).get(which)
        row[f"{which}_{key}"] = value
    return row


def column_defs(rows: list[dict]) -> list[dict]:
    """Fixed columns, then every hyperparameter that any run has, then metrics."""
    param_cols = sorted({k for r in rows for k in r if k.startswith("param_")})
    num = {"type": "numericColumn", "filter": "agNumberColumnFilter",
           "valueFormatter": {"function": "params.value == null ? '' : d3.format('.4~g')(params.value)"}}
    defs = [
        {"field": "link", "headerName": "id", "cellRenderer": "markdown", "width": 80, "pinned": "left",
         "comparator": {"function": "(a, b, na, nb) => na.data.id - nb.data.id"}},
        {"field": "name", "editable": True, "pinned": "left"},
        {"field": "status", "cellClassRules": {"status-failed": "params.value && (params.value.startsWith('failed') || params.value.startsWith('crashed') || params.value.includes('diverged'))",
                            "status-running": "params.value && params.value.startsWith('running')",
                            "status-completed": "params.value && params.value.startsWith('completed')",
                            "status-cancelled": "params.value && params.value.startsWith('cancelled')"}},
        {"field": "experiment"}, {"field": "model"}, {"field": "dataset"}, {"field": "epochs"},
    ]
    defs += [{"field": c, "headerName": c[len("param_"):], **({} if not _numeric_col(rows, c) else num)}
             for c in param_cols if c not in ("param_model", "param_dataset")]
    defs += [{"field": f"{which}_{key}", "headerName": f"{which} {key}", **num} for key, which in METRIC_COLUMNS]
    defs += [{"field": "duration", "comparator": {"function": "(a, b, na, nb) => (na.data.duration_s||0) - (nb.data.duration_s||0)"}},
             {"field": "params_count", "headerName": "parameters", **num},
             {"field": "tags", "editable": True}, {"field": "notes", "editable": True,
                                                   "cellEditor": "agLargeTextCellEditor", "cellEditorPopup": True},
             {"field": "created"}]
    return defs


def _numeric_col(rows, col) -> bool:
    vals = [r[col] for r in rows if r.get(col) is not None]
    return bool(vals) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals)


def runs_fingerprint(engine) -> list:
    """Changes whenever the grid would: a run added or removed, or a live run moving on."""
    from storage import reads

    live = reads.list_runs(engine, status=["queued", "running"], limit=1000)
    return [reads.count_runs(engine), sorted([r.id, r.status, r.epochs_done] for r in live)]


def grid_data(engine, limit: int = GRID_LIMIT) -> tuple[list[dict], list[dict], str]:
    """The Runs grid's rows, column definitions and a count line."""
    from storage import reads

    rows = [run_row(r) for r in reads.list_runs(engine, limit=limit)]
    total = reads.count_runs(engine)
    shown = f"{len(rows)} runs" if total <= len(rows) else f"newest {len(rows)} of {total} runs"
    return rows, column_defs(rows), shown


def register(app, config) -> None:
    def db():
        from storage.db import open_db

        return open_db(config.db_url)

    @app.callback(
        Output(ids.RUNS_GRID, "rowData"),
        Output(ids.RUNS_GRID, "columnDefs"),
        Output(ids.RUNS_FINGERPRINT, "data"),
        Output(ids.RUNS_COUNT, "children"),
        Input(ids.RUNS_INTERVAL, "n_intervals"),
        State(ids.RUNS_FINGERPRINT, "data"),
    )
    def load_runs(_n, fingerprint):
        from storage import writes

        engine = db()
        writes.mark_crashed_runs(engine)
        new_fp = runs_fingerprint(engine)
        if fingerprint is not None and new_fp == fingerprint:
            raise PreventUpdate
        rows, defs, shown = grid_data(engine)
        return rows, defs, new_fp, shown

    @app.callback(Output(ids.RUNS_GRID, "dashGridOptions"), Input(ids.RUNS_SEARCH, "value"),
                  State(ids.RUNS_GRID, "dashGridOptions"), prevent_initial_call=True)
    def quick_search(text, options):
        return {**(options or {}), "quickFilterText": text or ""}

    @app.callback(Output(ids.RUNS_COMPARE_LINK, "href"), Output(ids.RUNS_MESSAGE, "children"),
                  Input(ids.RUNS_COMPARE, "n_clicks"), State(ids.RUNS_GRID, "selectedRows"),
                  prevent_initial_call=True)
    def open_compare(_n, selected):
        if not selected:
            return no_update, "Select runs (tick their boxes) to compare them."
        run_ids = ",".join(str(r["id"]) for r in sorted(selected, key=lambda r: r["id"]))
        return f"/compare?runs={run_ids}", no_update

    @app.callback(Output(ids.RUNS_DELETE_CONFIRM, "displayed"), Output(ids.RUNS_MESSAGE, "children",
                                                                       allow_duplicate=True),
                  Input(ids.RUNS_DELETE, "n_clicks"), State(ids.RUNS_GRID, "selectedRows"),
                  prevent_initial_call=True)
    def ask_delete(_n, selected):
        if not selected:
            return False, "Select runs to delete."
        return True, no_update

    @app.callback(Output(ids.RUNS_MESSAGE, "children", allow_duplicate=True),
                  Output(ids.RUNS_FINGERPRINT, "data", allow_duplicate=True),
                  Input(ids.RUNS_DELETE_CONFIRM, "submit_n_clicks"),
                  Input(ids.RUNS_TAG, "n_clicks"),
                  Input(ids.RUNS_CANCEL, "n_clicks"),
                  State(ids.RUNS_GRID, "selectedRows"), State(ids.RUNS_TAG_TEXT, "value"),
                  prevent_initial_call=True)
    def act_on_selection(_del, _tag, _cancel, selected, tag):
        from storage import writes

        run_ids = [r["id"] for r in selected or []]
        if not run_ids:
            return "Select runs first.", no_update
        engine = db()
        if ctx.triggered_id == ids.RUNS_DELETE_CONFIRM:
            n = writes.delete_runs(engine, run_ids)
            return f"Deleted {n} runs.", None
        if ctx.triggered_id == ids.RUNS_TAG:
            if not (tag or "").strip():
                return "Type a tag first.", no_update
            for rid in run_ids:
                writes.tag_run(engine, rid, [tag.strip()])
            return f"Tagged {len(run_ids)} runs '{tag.strip()}'.", None
        states = [writes.request_cancel(engine, rid) for rid in run_ids]
        return f"Cancel requested for {len(run_ids)} runs ({', '.join(sorted(set(states)))}).", None

    @app.callback(Output(ids.RUNS_MESSAGE, "children", allow_duplicate=True),
                  Input(ids.RUNS_GRID, "cellValueChanged"), prevent_initial_call=True)
    def edit_cell(changes):
        from storage import writes

        if not changes:
            raise PreventUpdate
        engine = db()
        done = []
        for change in changes:
            rid, col, value = change["data"]["id"], change["colId"], change.get("value") or ""
            if col == "tags":
                old = [t.strip() for t in (change.get("oldValue") or "").split(",") if t.strip()]
                new = [t.strip() for t in value.split(",") if t.strip()]
                writes.untag_run(engine, rid, [t for t in old if t not in new])
                writes.tag_run(engine, rid, [t for t in new if t not in old])
            elif col == "notes":
                writes.set_note(engine, rid, value)
            elif col == "name":
                writes.rename_run(engine, rid, value)
            else:
                continue
            done.append(f"#{rid} {col}")
        return ("Saved " + ", ".join(done)) if done else no_update
