"""Queue runs for the dashboard's job slots: validate everything first, then write the rows."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from engine.spec import ExperimentSpec, parse_spec

from storage.db import open_db
from storage.writes import create_runs

from .run import run_row


def enqueue(specs: list[ExperimentSpec | dict[str, Any]], db_url: str, *, experiment: str = "") -> list[int]:
    """Validate every spec, then create one queued run per spec (in one experiment when named), all in
    one transaction. A SpecError from any spec means no row is written at all."""
    parsed = [parse_spec(s) for s in specs]
    if experiment:
        parsed = [dataclasses.replace(s, experiment=experiment) for s in parsed]
    return create_runs(open_db(db_url), [run_row(s) for s in parsed])


def default_experiment_name() -> str:
    return time.strftime("sweep-%Y%m%d-%H%M%S", time.gmtime())
