"""Dash callbacks, one module per page; each module has `register(app, config)`."""

from __future__ import annotations


def register_all(app, config) -> None:
    from . import compare, inside, jobs, launch, lessons, query, resume_fork, run, runs

    for module in (jobs, launch, runs, compare, run, query, inside, lessons, resume_fork):
        module.register(app, config)
