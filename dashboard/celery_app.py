"""Run the dashboard's training jobs on Celery workers (Redis broker) instead of local processes.

Start workers with the same database and Redis settings as the server:

    NNLAB_DB=postgresql+psycopg://... NNLAB_REDIS_URL=redis://host:6379/0 \\
        celery -A dashboard.celery_app:celery_app worker --concurrency=2

and the server with `nnlab serve --celery`. Workers import this module, which builds the app
so that the background callbacks (the job slots) are registered as Celery tasks.
"""

from __future__ import annotations

import os


def redis_url() -> str:
    return os.environ.get("NNLAB_REDIS_URL", "redis://127.0.0.1:6379/0")


def make_celery():
    from celery import Celery

    url = redis_url()
    return Celery("nnlab", broker=url, backend=url)


def _build_app():
    # Server and workers both build the app from the environment (NNLAB_DB, NNLAB_MAX_RUNNING,
    # NNLAB_REDIS_URL), so the job slots' closures hold the same values on both sides.
    from dash import CeleryManager

    from storage.db import resolve_db_url

    from .app import create_app

    return create_app(resolve_db_url(None), background_manager=CeleryManager(celery_app))


celery_app = make_celery()
dash_app = _build_app()
