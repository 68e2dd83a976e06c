"""The dashboard's part in an `nnlab worker`: the job slot's Celery task, and nothing else of the app.

Dash's CeleryManager names a background callback's task `background_callback_<sha256(callback id +
source)>` and registers every background callback known to the process on every manager built in it.
A worker builds one CeleryManager on its own Celery app and a bare Dash app (no layout, no pages, no
other callback) holding only `callbacks.jobs.register_cluster_slot`, the code the dashboard registers
too, so both compute the same task name. The worker so runs the slot's job without importing the pages
and their callbacks, which it would never run.
"""

from __future__ import annotations


def register_slot_task(celery_app, broker_url: str) -> None:
    """Register the job slot's task on `celery_app` (which needs a result backend)."""
    from dash import CeleryManager, Dash

    from callbacks.jobs import register_cluster_slot

    register_cluster_slot(Dash(__name__, background_callback_manager=CeleryManager(celery_app)), broker_url)
