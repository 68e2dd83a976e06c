"""Runs page: a server-side (infinite) grid over every run, live refresh, search, edits, actions.

The grid asks for blocks of rows as the user scrolls (AG Grid's infinite row model); each block is
one paged `list_runs` query sorted and filtered in SQL, so 10,000 runs cost what 100 do.
"""

from __future__ import annotations

import math

from dash import Input, Output, State, ctx, no_update
from dash.exceptions import PreventUpdate

from dashboard import ids
from dashboard.components.progress import format_duration
from engine.spec import ExperimentSpec, used_settings

METRIC_COLUMNS = (("val_accuracy", "best"), ("val_accuracy", "last"), ("val_loss", "best"),
                  ("train_loss", "last"), ("train_accuracy", "last"), ("test_accuracy", "last"))
# Grid column -> list_runs sort key (params and metrics are mapped by their prefix).
COLUMN_SORTS = {"link": "id", "name": "name", "status": "status", "experiment": "experiment", "model": "model",
                "dataset": "dataset", "epochs": "epochs_done", "created": "created_at",
                "params_count": "num_params", "duration": "ended_at", "parent": "parent_run_id", "worker": "worker"}
NUMERIC_PARAMS = {name for name, value in ExperimentSpec().to_dict().items()
                  if isinstance(value, int | float) and not isinstance(value, bool)}


def run_row(run) -> dict:
    """Flatten a RunRow into one grid row: fixed columns, `param_<name>`, `<best|last>_<metric>`."""
    status = run.status + (" · diverged" if run.diverged else "")
    row = {"id": run.id, "row_id": str(run.id), "link": f"[{run.id}](/run/{run.id})", "name": run.name, "status": status,
           "experiment": run.experiment, "model": run.model, "dataset": run.dataset,
           "epochs": f"{run.epochs_done}/{run.epochs_planned}", "duration": format_duration(run.duration_s),
           "params_count": run.num_params, "tags": ", ".join(run.tags), "notes": run.notes or "",
           "created": run.created_at.strftime("%Y-%m-%d %H:%M:%S") if run.created_at else "",
           "worker": run.worker, "queue": None}
    if run.parent_run_id is not None:  # a fork: its parent and the epoch it left it at
        row["parent"] = f"[{run.parent_run_id}](/run/{run.parent_run_id}) @ {run.fork_epoch}"
    for name, value in used_settings(run.params).items():
        row[f"param_{name}"] = value
    for key, which in METRIC_COLUMNS:
        value = run.summary.get(key, {}).get(which)
        row[f"{which}_{key}"] = None if value is None or not math.isfinite(value) else value
    return row


# Settings shown in fixed columns of their own (the "epochs" column reads done/planned).
FIXED_SETTINGS = {"model", "dataset", "epochs"}


def setting_columns(variety: dict[str, int], show_all: bool = False) -> list[str]:
    """The settings that get a column: those whose value differs between runs (a setting every run
    shares says nothing in a grid), or every setting with "show all settings"."""
    return [p for p, n in variety.items() if p not in FIXED_SETTINGS and (show_all or n > 1)]


def column_defs(param_names: list[str]) -> list[dict]:
    """Fixed columns, one per hyperparameter, then metrics. Filters map onto list_runs filters."""
    num = {"type": "numericColumn",
           "valueFormatter": {"function": "params.value == null ? '' : d3.format('.4~g')(params.value)"}}
    equals = {"filter": "agTextColumnFilter", "filterParams": {"filterOptions": ["equals"], "maxNumConditions": 1}}
    text = {"filter": "agTextColumnFilter", "filterParams": {"filterOptions": ["contains"], "maxNumConditions": 1}}
    defs = [
        # rows still in flight from the server have no data yet: say so (the row is also shaded, see runs page)
        {"field": "link", "headerName": "id", "cellRenderer": "markdown", "width": 90, "pinned": "left",
         "filter": False, "valueGetter": {"function": "params.data ? params.data.link : 'loading…'"}},
        {"field": "name", "editable": True, "pinned": "left", "filter": False},
        {"field": "status", **equals,
         "cellClassRules": {"status-failed": "params.value && (params.value.startsWith('failed') || params.value.startsWith('crashed') || params.value.includes('diverged'))",
                            "status-running": "params.value && params.value.startsWith('running')",
                            "status-completed": "params.value && params.value.startsWith('completed')",
                            "status-cancelled": "params.value && params.value.startsWith('cancelled')"}},
        {"field": "queue", "headerName": "queue #", "filter": False, "sortable": False, "width": 90},
        {"field": "worker", "filter": False, "width": 120},
        {"field": "experiment", **equals}, {"field": "model", **text}, {"field": "dataset", **text},
        {"field": "epochs", "headerName": "epochs (done/planned)", "filter": False},
        {"field": "parent", "headerName": "forked from", "cellRenderer": "markdown", "filter": False, "width": 110},
    ]
    defs += [{"field": f"param_{p}", "headerName": p, **equals, **(num if p in NUMERIC_PARAMS else {})}
             for p in param_names if p not in FIXED_SETTINGS]
    defs += [{"field": f"{which}_{key}", "headerName": f"{which} {key}", "filter": False, **num}
             for key, which in METRIC_COLUMNS]
    defs += [{"field": "duration", "filter": False}, {"field": "params_count", "headerName": "parameters",
                                                      "filter": False, **num},
             {"field": "tags", "editable": True, **equals},
             {"field": "notes", "editable": True, "filter": False, "cellEditor": "agLargeTextCellEditor",
              "cellEditorPopup": True},
             {"field": "created", "filter": False}]
    return defs


def block_query(request: dict, search: str | None) -> dict:
    """list_runs keyword arguments for one block request of the grid (sort, filters, paging)."""
    kwargs: dict = {"search": (search or "").strip() or None, "params": {}}
    for col, f in (request.get("filterModel") or {}).items():
        value = f.get("filter")
        if value in (None, ""):
            continue
        if col.startswith("param_"):
            kwargs["params"][col[len("param_"):]] = value
        elif col == "status":
            kwargs["status"] = str(value).strip().lower()
        elif col == "experiment":
            kwargs["experiment"] = str(value).strip()
        elif col == "tags":
            kwargs["tag"] = str(value).strip()
        elif col in ("model", "dataset"):
            kwargs["search"] = " ".join(filter(None, [kwargs["search"], str(value).strip()])) or None
    sort, descending = "created_at", True
    for item in request.get("sortModel") or []:
        col = item["colId"]
        descending = item.get("sort") == "desc"
        if col.startswith("param_"):
            sort = "param:" + col[len("param_"):]
        elif col.startswith(("best_", "last_")):
            which, _, key = col.partition("_")
            sort = f"metric:{key}:{which}"
        else:
            sort = COLUMN_SORTS.get(col, "created_at")
        break
    kwargs["params"] = kwargs["params"] or None
    return {**kwargs, "sort": sort, "descending": descending}


def runs_block(engine, request: dict, search: str | None = None) -> dict:
    """One block of grid rows and the number of runs the current search and filters match."""
    from storage import reads

    start, end = int(request.get("startRow", 0)), int(request.get("endRow", 100))
    query = block_query(request, search)
    counted = {k: v for k, v in query.items() if k not in ("sort", "descending")}
    runs = reads.list_runs(engine, **query, limit=end - start, offset=start, reap=start == 0)
    rows = [run_row(r) for r in runs]
    places = reads.queue_positions(engine, [r.id for r in runs if r.status == "queued"])
    for row in rows:
        row["queue"] = places.get(row["id"])
    return {"rowData": rows, "rowCount": reads.count_runs(engine, **counted)}


def count_text(matching: int, total: int) -> str:
    """'26 runs', or '3 of 26 runs' under a search or filter; '1 run' for one."""
    noun = "run" if total == 1 else "runs"
    return f"{total} {noun}" if matching == total else f"{matching} of {total} {noun}"


def runs_fingerprint(engine) -> list:
    """Changes whenever the grid would: a run added or removed, a live run moving on, a setting's values."""
    from storage import reads

    live = reads.list_runs(engine, status=["queued", "running"], limit=1000)
    return [reads.count_runs(engine), sorted([r.id, r.status, r.epochs_done] for r in live),
            reads.list_param_variety(engine)]


def register(app, config) -> None:
    def db():
        from storage.db import open_db

        return open_db(config.db_url)

    @app.callback(Output(ids.RUNS_GRID, "getRowsResponse"), Output(ids.RUNS_COUNT, "children"),
                  Input(ids.RUNS_GRID, "getRowsRequest"), State(ids.RUNS_SEARCH, "value"),
                  State(ids.RUNS_FINGERPRINT, "data"), prevent_initial_call=True)
    def load_block(request, search, fingerprint):
        if not request:
            raise PreventUpdate
        block = runs_block(db(), request, search)
        total = fingerprint[0] if fingerprint else block["rowCount"]
        return block, count_text(block["rowCount"], max(total, block["rowCount"]))

    # The page's layout brings the first columns and fingerprint (so the first block is fetched once);
    # from then on, the interval, the search and "show all settings" update them.
    @app.callback(
        Output(ids.RUNS_GRID, "columnDefs"),
        Output(ids.RUNS_FINGERPRINT, "data"),
        Input(ids.RUNS_INTERVAL, "n_intervals"),
        Input(ids.RUNS_SEARCH, "value"),
        Input(ids.RUNS_ALL_SETTINGS, "value"),
        State(ids.RUNS_FINGERPRINT, "data"),
        prevent_initial_call=True,
    )
    def watch_runs(_n, _search, show_all, fingerprint):
        new = runs_fingerprint(db())
        if new == fingerprint and ctx.triggered_id == ids.RUNS_INTERVAL:
            raise PreventUpdate
        same_columns = fingerprint and fingerprint[2] == new[2] and ctx.triggered_id != ids.RUNS_ALL_SETTINGS
        defs = no_update if same_columns else column_defs(setting_columns(new[2], bool(show_all)))
        if ctx.triggered_id == ids.RUNS_ALL_SETTINGS:
            return defs, no_update
        return defs, new

    # Reload the visible blocks (keeping scroll and selection) when runs change or the search does.
    app.clientside_callback(
        """async function(fp) {
               const api = await dash_ag_grid.getApiAsync("%s");
               api.refreshInfiniteCache();
               return window.dash_clientside.no_update;
           }""" % ids.RUNS_GRID,
        Output(ids.RUNS_GRID, "id"),
        Input(ids.RUNS_FINGERPRINT, "data"),
        prevent_initial_call=True,
    )

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
