"""Sorting runs by a hyperparameter (the Runs grid's columns), on SQLite and PostgreSQL."""

from __future__ import annotations

from storage import reads, writes


def _run(engine, **params):
    return writes.create_run(engine, {"p": params}, params, status="completed")


def test_runs_sort_by_a_numeric_param_as_numbers_and_missing_last(engine):
    a = _run(engine, lr=0.1)
    b = _run(engine, lr=0.01)
    c = _run(engine, lr=1.0)
    d = _run(engine, optimizer="sgd")  # no lr
    asc = [r.id for r in reads.list_runs(engine, sort="param:lr", descending=False)]
    desc = [r.id for r in reads.list_runs(engine, sort="param:lr", descending=True)]
    assert asc == [b, a, c, d]
    assert desc == [c, a, b, d]


def test_runs_sort_by_a_text_param_and_page(engine):
    ids = {name: _run(engine, optimizer=name) for name in ("sgd", "adam", "momentum")}
    page1 = reads.list_runs(engine, sort="param:optimizer", descending=False, limit=2)
    page2 = reads.list_runs(engine, sort="param:optimizer", descending=False, limit=2, offset=2)
    assert [r.id for r in page1 + page2] == [ids["adam"], ids["momentum"], ids["sgd"]]
