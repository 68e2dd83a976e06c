"""Serve the dashboard (what `nnlab serve` and `make run` start)."""

from __future__ import annotations

import os


def serve(db_url: str, *, host: str = "127.0.0.1", port: int = 8050, cache_dir: str = ".nnlab-cache",
          max_running: int = 0, celery: bool = False, debug: bool = False) -> int:
    from .app import create_app

    manager = None
    if celery:
        from .celery_app import celery_manager

        manager = celery_manager()
    app = create_app(db_url, background_manager=manager, cache_dir=cache_dir, max_running=max_running or None)
    where = db_url
    print(f"NN Lab dashboard on http://{host}:{port}  (results: {where}; jobs: "
          f"{'Celery' if celery else 'diskcache ' + os.path.abspath(cache_dir)})", flush=True)
    app.run(host=host, port=port, debug=debug)
    return 0
