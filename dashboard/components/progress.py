"""A card per queued or running run: status, progress bar (epoch k of N, elapsed, ETA), Cancel."""

from __future__ import annotations

from datetime import datetime, timezone

import dash_bootstrap_components as dbc
from dash import dcc, html

from .. import ids

STATUS_COLORS = {"queued": "secondary", "running": "primary", "completed": "success", "cancelled": "warning",
                 "failed": "danger", "crashed": "danger"}


def status_badge(status: str, diverged: bool = False):
    badge = dbc.Badge(status, color=STATUS_COLORS.get(status, "secondary"), className="me-1")
    if diverged:
        return html.Span([badge, dbc.Badge("diverged", color="danger")])
    return badge


def seconds_since(ts) -> float:
    """Seconds from a (naive-UTC or aware) timestamp until now."""
    if ts is None:
        return 0.0
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return max(0.0, (datetime.now(timezone.utc) - ts).total_seconds())


def format_duration(seconds: float | None) -> str:
    """'0.4s', '12s', '3m05s', '2h07m' ('-' for None): tenths below 10 s, where most small runs end."""
    if seconds is None:
        return "-"
    if seconds < 9.95:
        return f"{seconds:.1f}s"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    m, s = divmod(seconds, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"


def progress_text(run) -> tuple[str, float]:
    """('epoch 3 of 20 · 4s elapsed · ETA 22s', percent) for a run row."""
    done, total = run.epochs_done or 0, run.epochs_planned or 0
    pct = 100.0 * done / total if total else 0.0
    if run.status == "queued":
        return "queued: waits for a free slot", 0.0
    elapsed = seconds_since(run.started_at) if run.status == "running" else (run.duration_s or 0.0)
    eta = elapsed / done * (total - done) if done and run.status == "running" else None
    text = f"epoch {done} of {total} · {format_duration(elapsed)} elapsed"
    if eta is not None:
        text += f" · ETA {format_duration(eta)}"
    return text, pct


def run_progress_card(run):
    """The live card of one queued or running run: progress, and Cancel (until it was pressed)."""
    text, pct = progress_text(run)
    active = run.status in ("queued", "running")
    title = f"#{run.id} {run.name or ''} {run.model} on {run.dataset}"
    val = run.summary.get("val_accuracy", {}).get("last")
    if not active:
        cancel = None
    elif run.cancel_requested:
        cancel = html.Span("cancelling…", className="small text-muted")
    else:
        cancel = dbc.Button("Cancel", id={"type": ids.CANCEL_RUN, "run": run.id}, size="sm", color="outline-danger")
    return dbc.Card(dbc.CardBody([
        html.Div(className="d-flex justify-content-between align-items-center", children=[
            html.Div([dcc.Link(title, href=f"/run/{run.id}", className="fw-semibold me-2"),
                      status_badge(run.status, run.diverged)]),
            cancel,
        ]),
        dbc.Progress(value=pct, label=f"{run.epochs_done}/{run.epochs_planned}", className="my-2",
                     striped=active, animated=run.status == "running",
                     color=STATUS_COLORS.get(run.status, "primary"),
                     id={"type": "run-progress", "run": run.id}),
        html.Div([html.Span(text, className="run-progress-text"),
                  html.Span(f" · val_accuracy {val:.3f}" if isinstance(val, float) else "")],
                 className="small text-muted", id={"type": "run-progress-text", "run": run.id}),
        html.Div(run.error.strip().splitlines()[-1], className="small text-danger") if run.error else None,
    ]), className="mb-2", id={"type": "run-card", "run": run.id})


def finished_run_line(run):
    """One line for a finished run: link, status, epochs reached, last validation accuracy, duration."""
    val = run.summary.get("val_accuracy", {}).get("last")
    return html.Div([
        dcc.Link(f"#{run.id} {run.name or ''} {run.model} on {run.dataset}", href=f"/run/{run.id}", className="me-2"),
        status_badge(run.status, run.diverged),
        html.Span(f" epoch {run.epochs_done} of {run.epochs_planned}"
                  + (f" · val_accuracy {val:.3f}" if isinstance(val, float) else "")
                  + f" · {format_duration(run.duration_s)}", className="small text-muted"),
    ], className="finished-run mb-1", id={"type": "finished-run", "run": run.id})


def sweep_summary(name: str, runs: list, is_open: bool = False):
    """A sweep at a glance (done / running / queued / failed) with every run in an expandable list."""
    count = {k: sum(r.status == k for r in runs) for k in ("completed", "running", "queued", "cancelled")}
    failed = sum(r.status in ("failed", "crashed") for r in runs)
    head = (f"Sweep '{name}': {len(runs)} runs · {count['completed']} done · {count['running']} running · "
            f"{count['queued']} queued · {failed} failed" + (f" · {count['cancelled']} cancelled"
                                                            if count["cancelled"] else ""))
    rows = [html.Li([dcc.Link(f"#{r.id}", href=f"/run/{r.id}", className="me-1"), status_badge(r.status, r.diverged),
                     html.Span(f" epoch {r.epochs_done} of {r.epochs_planned}", className="small text-muted")])
            for r in runs]
    # the panel is redrawn every second: whether the list is open is kept in a store (callbacks/launch.py)
    return html.Details([html.Summary(head, className="fw-semibold", n_clicks=0,
                                      id={"type": ids.SWEEP_TOGGLE, "name": name}),
                         html.Ul(rows, className="list-unstyled ms-3")],
                        className="sweep-summary mb-2", open=is_open)
