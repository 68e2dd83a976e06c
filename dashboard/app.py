"""`create_app(db_url)`: the Dash app with its pages, callbacks and background-job slots."""

from __future__ import annotations

import os
from dataclasses import dataclass

import dash
from dash import Dash, dcc, html

from . import ids
from .components.navbar import navbar
from .pages import compare, launch, lessons, query, run, runs


@dataclass(frozen=True)
class AppConfig:
    """What callbacks need to know about this server: the database and the job slots."""

    db_url: str
    max_running: int
    query_url: str = ""  # where the Query page runs SQL: a reader role's URL on PostgreSQL (else db_url)
    broker_url: str | None = None  # set: the job slot runs on the `nnlab worker`s of this Celery broker


MAX_REQUEST_BYTES = 4 * 1024 * 1024  # callbacks send ids and form values; a larger body is refused (413)


def _register_pages() -> None:
    for module in (launch, runs, compare, lessons, query):
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

        # Dash forks each job from the server. A fork taken while another server thread is inside SQLite
        # copies SQLite's locked allocator mutex, and the job then hangs at its first SQLite call (the
        # cache that Dash writes the job's result to): seen in our test suite, where the hung job also
        # kept pytest from exiting. A spawned job starts from a fresh interpreter instead.
        def call_job_fn(self, key, job_fn, args, context):
            from multiprocess import get_context

            process = get_context("spawn").Process(target=job_fn,
                                                   args=(key, self._make_progress_key(key), args, context))
            process.start()
            return process.pid

    os.makedirs(cache_dir, exist_ok=True)
    return _DiskcacheManager(diskcache.Cache(cache_dir))


def _harden(server) -> None:
    """Bounded request bodies, 404 for unknown component-suite paths, no request bodies in the log."""
    from dash.exceptions import DependencyException
    from flask import request
    from werkzeug.exceptions import NotFound, RequestEntityTooLarge

    server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES

    @server.before_request
    def _refuse_oversized_and_traversal():
        if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
            raise RequestEntityTooLarge()
        if request.path.startswith("/_dash-component-suites/") and (".." in request.path or "\\" in request.path):
            raise NotFound()

    @server.errorhandler(DependencyException)
    def _unknown_resource(_exc):  # Dash raises it for a path it never registered: that is a 404, not a 500
        return "Not Found", 404

    @server.errorhandler(RequestEntityTooLarge)
    def _too_large(_exc):
        return f"Request body larger than {MAX_REQUEST_BYTES // 2**20} MB", 413


def create_app(db_url: str, *, cache_dir: str | None = None,
               max_running: int | None = None, query_db_url: str | None = None,
               broker_url: str | None = None) -> Dash:
    """Build the dashboard for the results database at `db_url`.

    Training runs execute in warm workers started by the job slot, a background callback
    (DiskcacheManager on `cache_dir`); at most `max_running` train at once, others queue. With
    `broker_url`, the `nnlab worker`s of that broker train them, and the job slot runs there too
    (Dash's CeleryManager, results in the broker's Redis).
    The Query page runs SQL through `query_db_url` (else $NNLAB_QUERY_DB, else `db_url`).
    """
    from callbacks import register_all
    from jobs.threads import default_max_running
    from storage.db import open_db
    from storage.readonly import resolve_query_url

    open_db(db_url)  # create or migrate the schema before serving
    if broker_url:
        from dash import CeleryManager

        from jobs.cluster import make_celery

        background_manager = CeleryManager(make_celery(broker_url, results=True))
    else:
        background_manager = default_manager(cache_dir or ".nnlab-cache")
    config = AppConfig(db_url=db_url, max_running=max_running or default_max_running(),
                       query_url=resolve_query_url(db_url, query_db_url), broker_url=broker_url)
    # Bootstrap's CSS is served from dashboard/assets, not a CDN, so the page works offline.
    app = Dash(__name__, use_pages=True, pages_folder="", suppress_callback_exceptions=True,
               background_callback_manager=background_manager, title="NN Lab")
    _register_pages()
    slot = [dcc.Store(id=ids.WORKERS_KICK), dcc.Store(id=ids.WORKERS_WAKE), dcc.Store(id=ids.WORKERS_RESULT)]
    app.layout = html.Div([dcc.Location(id=ids.URL), navbar(), html.Div(id=ids.BROKER_ALERT, className="mx-3"),
                           dash.page_container, html.Div(slot)])
    app.server.config["NNLAB"] = config
    _harden(app.server)
    register_all(app, config)
    return app
