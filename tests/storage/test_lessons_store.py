"""Reuse lookup and run links on SQLite and PostgreSQL: the same spec and engine version, completed, is reused."""

from __future__ import annotations

import dataclasses

import engine as nn_engine
import storage as s
from lessons.definitions import get_lesson
from lessons.runner import existing_runs, lesson_plan


def _store(db, spec, *, status="completed", version=nn_engine.__version__, **changes) -> int:
    spec = dataclasses.replace(spec, **changes)
    return s.create_run(db, spec.to_dict(), spec.params(), status=status, seed=spec.seed, model=spec.model,
                        dataset=spec.dataset, engine_version=version, experiment=spec.experiment or None)


def test_only_a_same_spec_same_version_usable_run_is_reused(engine, db_url):
    plan = lesson_plan(get_lesson("perceptron-xor"), 2)
    and0, and1, xor0 = plan.specs[0], plan.specs[1], plan.specs[2]
    _store(engine, and0, status="failed")
    _store(engine, and1, version="0.0.1")
    _store(engine, xor0, lr=0.5)
    assert existing_runs(db_url, plan) == [None, None, None, None]
    good = _store(engine, and0, name="renamed", tags=("mine",), experiment="elsewhere")
    queued = _store(engine, xor0, status="queued")
    assert existing_runs(db_url, plan) == [good, None, queued, None]
    assert s.get_run(engine, good).experiment == "elsewhere"
