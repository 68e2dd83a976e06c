"""Serve the dashboard (what `nnlab serve` and `make run` start) on waitress, a production WSGI server.

Waitress serves every request on a pool of `threads` threads in one process (Flask's development
server only with --debug). Locally the first warm worker is started at once; with a broker the
server also watches the store (jobs.cluster.Watch: crashed runs are marked even with no page open).
"""

from __future__ import annotations

import os
import sys

THREADS = 8  # waitress request threads; callbacks wait mostly on the database


def serve(db_url: str, *, host: str = "127.0.0.1", port: int = 8050, cache_dir: str = ".nnlab-cache",
          max_running: int = 0, celery: bool = False, broker: str | None = None, debug: bool = False,
          threads: int = THREADS, query_db: str | None = None) -> int:
    from storage.db import mask_url

    if celery:
        print("nnlab serve: error: --celery is gone: start `nnlab worker --broker URL --db URL` on each "
              "training machine and `nnlab serve --broker URL --db URL` here (README, 'Scale out')", file=sys.stderr)
        return 2
    from .app import create_app

    app = create_app(db_url, cache_dir=cache_dir, max_running=max_running or None, query_db_url=query_db,
                     broker_url=broker)
    if broker:
        from jobs.cluster import Watch

        Watch(db_url, broker, "dashboard", concurrency=0).start()
        jobs = f"nnlab workers of {mask_url(broker)}"
    else:
        from jobs.worker import ensure_workers

        ensure_workers(db_url, app.server.config["NNLAB"].max_running, wanted=1)  # the first Start finds it warm
        jobs = "warm workers here, diskcache " + os.path.abspath(cache_dir)
    server = "Flask's development server (--debug)" if debug else f"waitress, {threads} threads"
    print(f"NN Lab dashboard on http://{host}:{port}  (results: {mask_url(db_url)}; jobs: {jobs}; {server})",
          flush=True)
    if debug:
        app.run(host=host, port=port, debug=True)
        return 0
    from waitress import serve as waitress_serve

    waitress_serve(app.server, host=host, port=port, threads=threads, ident="nnlab")
    return 0
