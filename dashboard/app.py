"""`create_app(db_url)`: the Dash app with its pages, callbacks and background-job slots."""

from __future__ import annotations

import os
from dataclasses import dataclass

import dash
from dash import Dash, dcc, html

from . import ids
from .components.navbar import navbar
from .pages import compare, launch, query, run, runs


@dataclass(frozen=True)
class AppConfig:
    """What callbacks need to know about this server: the database and the job slots."""

    db_url: str
    max_running: int
    broker_url: str | None = None  # set: the job slot wakes `nnlab worker`s through this Celery broker


def _register_pages() -> None:
    for module in (launch, runs, compare, query):
        dash.register_page(module.__name__, path=module.PATH, title=f"NN Lab · {module.TITLE}",
                           name=module.TITLE, layout=module.layout)
    dash.register_page(run.__name__, path_template=run.PATH_TEMPLATE, title="NN Lab · Run", name="Run",
                       layout=run.layout)


def default_manager(cache_dir: str):
    """DiskcacheManager on a cache folder: the embedded default for background jobs."""
    import diskcache
    import psutil
    from dash import DiskcacheManager

    class _DiskcacheManager(DiskcacheManager):
        # Dash 4.4 races when a finished job's process exits between its pid_exists() check and
        # psutil.Process(): NoSuchProcess escapes as an HTTP 500 (seen in our browser tests).
        def terminate_job(self, job):
            try:
                super().terminate_job(job)
            except psutil.NoSuchProcess:
                pass

    os.makedirs(cache_dir, exist_ok=True)
    return _DiskcacheManager(diskcache.Cache(cache_dir))


def create_app(db_url: str, *, background_manager=None, cache_dir: str | None = None,
               max_running: int | None = None, broker_url: str | None = None) -> Dash:
    """Build the dashboard for the results database at `db_url`.

    Training runs execute in background callbacks (DiskcacheManager on `cache_dir` unless a
    manager, e.g. a CeleryManager, is given); at most `max_running` train at once, others queue.
    With `broker_url`, runs are trained by the `nnlab worker`s of that broker instead.
    """
    from callbacks import register_all
    from jobs.threads import default_max_running
    from storage.db import open_db

    open_db(db_url)  # create or migrate the schema before serving
    if background_manager is None:
        background_manager = default_manager(cache_dir or ".nnlab-cache")
    config = AppConfig(db_url=db_url, max_running=max_running or default_max_running(), broker_url=broker_url)
    # Bootstrap's CSS is served from dashboard/assets, not a CDN, so the page works offline.
    app = Dash(__name__, use_pages=True, pages_folder="", suppress_callback_exceptions=True,
               background_callback_manager=background_manager, title="NN Lab")
    _register_pages()
    slot = [dcc.Store(id=ids.WORKERS_KICK), dcc.Store(id=ids.WORKERS_RESULT)]
    app.layout = html.Div([dcc.Location(id=ids.URL), navbar(), dash.page_container, html.Div(slot)])
    app.server.config["NNLAB"] = config
    register_all(app, config)
    return app
