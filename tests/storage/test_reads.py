"""list_runs / count_runs filters and sorting, get_run, and the catalogue queries."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import update

import storage as s
from storage.db import write_tx
from storage.models import Run, utcnow


@pytest.fixture
def runs(sqlite_engine):
    """Five runs with different params, tags, statuses and metrics; returns {label: run_id}."""
    e = sqlite_engine
    ids = {
        "a": s.create_run(e, {}, {"optimizer": "adam", "lr": 0.1, "layers": 3}, name="alpha", experiment="sweep",
                          tags=["baseline"], model="mlp", dataset="digits"),
        "b": s.create_run(e, {}, {"optimizer": "sgd", "lr": 0.01, "layers": 2}, name="beta", experiment="sweep",
                          tags=["baseline", "fast"], model="cnn", dataset="mnist"),
        "c": s.create_run(e, {}, {"optimizer": "sgd", "lr": 0.1, "layers": 3.0}, name="gamma 100%",
                          experiment="other", model="mlp", dataset="xor"),
        "d": s.create_run(e, {}, {"optimizer": "adam", "lr": 0.001, "layers": 1}, name="delta", model="rnn"),
        "e": s.create_run(e, {}, {}, name="empty", tags=["Ünïcode"]),
    }
    s.set_note(e, ids["d"], "The one with the Special note")
    for label, best in (("a", 0.9), ("b", 0.7), ("c", 0.95)):
        s.start_run(e, ids[label], pid=1, host="elsewhere")
        s.log_epoch(e, ids[label], 1, {"val_accuracy": best - 0.1, "val_loss": 1.0})
        val_loss = {"a": 0.5, "b": 0.6, "c": float("nan")}[label]
        s.log_epoch(e, ids[label], 2, {"val_accuracy": best, "val_loss": val_loss})
        s.log_epoch(e, ids[label], 3, {"val_accuracy": best - 0.2})
    s.finish_run(e, ids["a"], "completed")
    s.finish_run(e, ids["b"], "failed", error="boom")
    return ids


def _labels(result, ids) -> list[str]:
    back = {v: k for k, v in ids.items()}
    return [back[r.id] for r in result]


def test_filters_by_status_params_tag_experiment_and_ids(sqlite_engine, runs):
    e = sqlite_engine
    q = lambda **kw: sorted(_labels(s.list_runs(e, **kw), runs))  # noqa: E731
    assert q(status="completed") == ["a"]
    assert q(status=["failed", "queued"]) == ["b", "d", "e"]
    assert q(params={"optimizer": "sgd"}) == ["b", "c"]
    assert q(params={"lr": 0.1, "optimizer": "sgd"}) == ["c"]
    assert q(params={"layers": 3}) == ["a", "c"]  # 3 and 3.0 are the same number
    assert q(params={"lr": "0.1"}) == ["a", "c"]  # text from a URL matches the number
    assert q(params={"lr": [0.01, 0.001]}) == ["b", "d"]
    assert q(tag="baseline") == ["a", "b"]
    assert q(tag=["baseline", "fast"]) == ["b"]
    assert q(experiment="sweep") == ["a", "b"]
    assert q(run_ids=[runs["a"], runs["e"]]) == ["a", "e"]
    assert s.count_runs(e, params={"optimizer": "sgd"}, status="running") == 1


def test_search_looks_in_name_notes_tags_model_dataset_and_experiment(sqlite_engine, runs):
    q = lambda text: sorted(_labels(s.list_runs(sqlite_engine, search=text), runs))  # noqa: E731
    assert q("ALPHA") == ["a"]
    assert q("special NOTE") == ["d"]
    assert q("fast") == ["b"]
    assert q("Ünï") == ["e"]
    assert q("rnn") == ["d"]
    assert q("mnist") == ["b"]
    assert q("other") == ["c"]
    assert q("100%") == ["c"]  # % is a literal, not a wildcard
    assert q("%") == ["c"]
    assert s.count_runs(sqlite_engine, search="a") == len(q("a"))


def test_sorting_by_a_column_or_a_metric_keeps_runs_without_it_last(sqlite_engine, runs):
    e = sqlite_engine
    assert _labels(s.list_runs(e, sort="name", descending=False), runs) == ["a", "b", "d", "e", "c"]
    assert _labels(s.list_runs(e, sort="created_at"), runs) == ["e", "d", "c", "b", "a"]
    assert _labels(s.list_runs(e, sort="metric:val_accuracy:best"), runs)[:3] == ["c", "a", "b"]
    assert _labels(s.list_runs(e, sort="metric:val_accuracy:best", descending=False), runs)[:3] == ["b", "a", "c"]
    assert _labels(s.list_runs(e, sort="metric:val_loss:last", descending=False), runs)[:2] == ["a", "b"]
    assert _labels(s.list_runs(e, sort="metric:val_loss", descending=False), runs)[:3] == ["a", "b", "c"]  # best
    assert _labels(s.list_runs(e, sort="metric:val_accuracy:best"), runs)[3:] == ["e", "d"]  # no metric: last
    page = s.list_runs(e, sort="name", descending=False, limit=2, offset=2)
    assert _labels(page, runs) == ["d", "e"]
    with pytest.raises(ValueError, match="cannot sort"):
        s.list_runs(e, sort="spec")


def test_run_rows_carry_params_tags_summary_and_durations(sqlite_engine, runs):
    row = s.list_runs(sqlite_engine, run_ids=[runs["a"]])[0]
    assert row.params == {"optimizer": "adam", "lr": 0.1, "layers": 3}
    assert row.tags == ["baseline"] and row.experiment == "sweep" and row.status == "completed"
    assert row.summary["val_accuracy"] == {"last": pytest.approx(0.7), "last_step": 3, "best": 0.9, "best_step": 2,
                                           "nonfinite": 0}
    assert row.duration_s is not None and row.duration_s >= 0 and row.spec == {}
    assert s.list_runs(sqlite_engine, run_ids=[runs["e"]])[0].duration_s is None


def test_listing_reaps_runs_whose_process_is_gone(sqlite_engine):
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    run_id = s.create_run(sqlite_engine, {}, {})
    s.start_run(sqlite_engine, run_id, pid=proc.pid, host=socket.gethostname())
    assert s.list_runs(sqlite_engine, reap=False)[0].status == "running"
    with write_tx(sqlite_engine) as conn:  # pretend the last heartbeat was a minute ago
        conn.execute(update(Run).values(heartbeat_at=utcnow() - timedelta(seconds=60)))
    assert s.list_runs(sqlite_engine)[0].status == "crashed"


def test_catalogue_lists_experiments_params_metric_keys_and_tags(sqlite_engine, runs):
    experiments = {x["name"]: x["runs"] for x in s.list_experiments(sqlite_engine)}
    assert experiments == {"other": 1, "sweep": 2}
    assert s.list_param_names(sqlite_engine) == ["layers", "lr", "optimizer"]
    assert s.list_metric_keys(sqlite_engine) == ["val_accuracy", "val_loss"]
    assert s.list_tags(sqlite_engine) == [{"tag": "baseline", "runs": 2}, {"tag": "fast", "runs": 1},
                                          {"tag": "Ünïcode", "runs": 1}]


def test_metric_sort_pages_agree_with_one_full_ordering(sqlite_engine, runs):
    e = sqlite_engine
    everything = s.list_runs(e, limit=None, reap=False)
    for which in ("best", "last"):
        for descending in (True, False):
            def value(run, which=which):
                return run.summary.get("val_loss", {}).get(which)
            with_value = [r for r in everything if value(r) is not None and value(r) == value(r)]
            without = [r for r in everything if r not in with_value]
            sign = -1 if descending else 1
            expected = ([r.id for r in sorted(with_value, key=lambda r: (sign * value(r), sign * r.id))]
                        + [r.id for r in sorted(without, key=lambda r: sign * r.id)])
            sort = f"metric:val_loss:{which}"
            assert [r.id for r in s.list_runs(e, sort=sort, descending=descending, limit=None)] == expected
            for limit in (1, 2, 3):
                for offset in range(6):
                    page = s.list_runs(e, sort=sort, descending=descending, limit=limit, offset=offset, reap=False)
                    assert [r.id for r in page] == expected[offset:offset + limit], (which, descending, limit, offset)
