"""Serve the dashboard (what `nnlab serve` and `make run` start)."""

from __future__ import annotations

import os


def serve(db_url: str, *, host: str = "127.0.0.1", port: int = 8050, cache_dir: str = ".nnlab-cache",
          max_running: int = 0, celery: bool = False, debug: bool = False, query_db: str | None = None) -> int:
    from storage.db import mask_url

    if query_db:
        os.environ["NNLAB_QUERY_DB"] = query_db  # read by create_app, here and in Celery's app module
    if celery:
        os.environ["NNLAB_DB"] = db_url
        if max_running:
            os.environ["NNLAB_MAX_RUNNING"] = str(max_running)
        from .celery_app import dash_app as app
    else:
        from .app import create_app

        app = create_app(db_url, cache_dir=cache_dir, max_running=max_running or None)
        from jobs.worker import ensure_workers

        ensure_workers(db_url, app.server.config["NNLAB"].max_running, wanted=1)  # the first Start finds it warm
    where = mask_url(db_url)
    print(f"NN Lab dashboard on http://{host}:{port}  (results: {where}; jobs: "
          f"{'Celery' if celery else 'diskcache ' + os.path.abspath(cache_dir)})", flush=True)
    app.run(host=host, port=port, debug=debug)
    return 0
