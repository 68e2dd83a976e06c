"""Dash callbacks, one module per page; each module has `register(app, config)`."""

from __future__ import annotations


def register_all(app, config) -> None:
    from . import compare, inside, jobs, launch, query, run, runs

    for module in (jobs, launch, runs, compare, run, query, inside):
        module.register(app, config)
