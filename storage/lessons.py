"""Verbs for lessons and ablations: link runs to experiments, find a run to reuse.

A run keeps its own experiment (runs.experiment_id); experiment_runs adds every other experiment that
uses it, so one run can serve several lessons and ablations.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Engine, select

from .db import dialect_insert, read_tx, write_tx
from .models import Experiment, ExperimentRun, Run
from .writes import _experiment_id

REUSABLE_STATUSES = ("completed", "running", "queued")


def link_runs(engine: Engine, experiment: str, run_ids: Iterable[int]) -> None:
    """Add the runs to `experiment` (created by name if needed); links that exist are kept."""
    ids = sorted({int(i) for i in run_ids})
    if not ids:
        return
    with write_tx(engine) as conn:
        exp_id = _experiment_id(conn, experiment)
        conn.execute(dialect_insert(conn, ExperimentRun).values([{"experiment_id": exp_id, "run_id": i} for i in ids])
                     .on_conflict_do_nothing(index_elements=["experiment_id", "run_id"]))


def experiment_run_ids(engine: Engine, experiment: str) -> list[int]:
    """Every run of `experiment`: its own runs and the linked ones, ascending."""
    with read_tx(engine) as conn:
        exp_id = conn.scalar(select(Experiment.id).where(Experiment.name == experiment))
        if exp_id is None:
            return []
        own = set(conn.scalars(select(Run.id).where(Run.experiment_id == exp_id)))
        linked = set(conn.scalars(select(ExperimentRun.run_id).where(ExperimentRun.experiment_id == exp_id)))
    return sorted(own | linked)


def reuse_candidates(engine: Engine, *, model: str, dataset: str, seeds: Iterable[int], engine_version: str
                     ) -> list[dict]:
    """[{"id", "status", "seed", "spec"}] of runs that could be reused: same model, data set, engine
    version and one of the seeds, completed (or still queued/running), oldest first."""
    stmt = (select(Run.id, Run.status, Run.seed, Run.spec)
            .where(Run.model == model, Run.dataset == dataset, Run.engine_version == engine_version,
                   Run.seed.in_([int(s) for s in seeds]), Run.status.in_(REUSABLE_STATUSES))
            .order_by(Run.id))
    with read_tx(engine) as conn:
        return [{"id": r.id, "status": r.status, "seed": r.seed, "spec": json.loads(r.spec or "{}")}
                for r in conn.execute(stmt)]


def run_states(engine: Engine, run_ids: Iterable[int]) -> dict[int, dict]:
    """{run_id: {"status", "epochs_done", "epochs_planned", "seed"}}: what a waiting caller polls."""
    ids = [int(i) for i in run_ids]
    if not ids:
        return {}
    stmt = select(Run.id, Run.status, Run.epochs_done, Run.epochs_planned, Run.seed).where(Run.id.in_(ids))
    with read_tx(engine) as conn:
        return {r.id: {"status": r.status, "epochs_done": r.epochs_done, "epochs_planned": r.epochs_planned,
                       "seed": r.seed} for r in conn.execute(stmt)}


def experiment_names_of(engine: Engine, run_id: int) -> list[str]:
    """The experiments a run belongs to: its own first, then the linked ones by name."""
    with read_tx(engine) as conn:
        own = conn.scalar(select(Experiment.name).join(Run, Run.experiment_id == Experiment.id)
                          .where(Run.id == run_id))
        linked = list(conn.scalars(select(Experiment.name).join(ExperimentRun,
                                                                 ExperimentRun.experiment_id == Experiment.id)
                                   .where(ExperimentRun.run_id == run_id).order_by(Experiment.name)))
    return ([own] if own else []) + [n for n in linked if n != own]


__all__ = ["experiment_names_of", "experiment_run_ids", "link_runs", "reuse_candidates", "run_states"]
