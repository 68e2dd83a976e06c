"""The Query page's ready examples run on a real database and answer what they say."""

from __future__ import annotations

import pytest

from dashboard.pages.query import EXAMPLES
from jobs.run import run_experiment
from storage.readonly import run_readonly_query


@pytest.fixture(scope="module")
def filled_db(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('q') / 'runs.db'}"
    for optimizer, dropout in (("sgd", 0.0), ("adam", 0.0), ("adam", 0.5)):
        run_experiment({"dataset": "xor", "hidden": "8", "epochs": 3, "optimizer": optimizer, "lr": 0.1,
                        "dropout": dropout, "snapshots": False}, url)
    run_experiment({"dataset": "digits", "epochs": 2, "optimizer": "sgd", "lr": 10.0, "hidden": "256,256",
                    "snapshots": False}, url)
    return url


def test_every_example_runs(filled_db):
    for label, sql in EXAMPLES:
        result = run_readonly_query(filled_db, sql)
        assert result.rows, label


def test_examples_answer_their_question(filled_db):
    best = dict(EXAMPLES)["Best run per optimizer"]
    rows = run_readonly_query(filled_db, best).rows
    assert sorted(r[0] for r in rows) == ["adam", "sgd"]  # one row per optimizer
    by_dropout = run_readonly_query(filled_db, dict(EXAMPLES)["Mean final val accuracy by dropout"]).rows
    assert [r[0] for r in by_dropout] == [0.0, 0.5] and [r[1] for r in by_dropout] == [3, 1]
    diverged = run_readonly_query(filled_db, dict(EXAMPLES)["Runs that diverged"]).rows
    assert [r[0] for r in diverged] == [4]
