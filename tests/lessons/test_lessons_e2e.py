"""Every lesson validates, and runs end to end in a reduced form (fewer epochs and seeds) through the store;
reuse trains nothing new the second time; the CLI's JSON has the documented shape."""

from __future__ import annotations

import json

import pytest

from cli.main import main
from lessons.definitions import LESSONS, get_lesson
from tests.lessons.in_process import launch_in_process
from lessons.runner import evaluate_plan, launch_plan, lesson_plan, wait_for_runs

POSTS = {"Perceptron", "Hidden layer", "Backpropagation", "Optimizers", "Regularization", "CNNs",
         "BatchNorm and residuals", "Recurrent networks", "Attention"}
# Reduced forms: the same arms, far fewer epochs and examples.
REDUCE = {
    "perceptron-xor": {"epochs": 3},
    "hidden-layer-xor": {"epochs": 30},
    "vanishing-gradient": {"epochs": 1, "subset": 50, "hidden": "8,8,8"},
    "optimizers": {"epochs": 2, "subset": 100},
    "dropout-gap": {"epochs": 2, "subset": 50, "hidden": "16"},
    "cnn-vs-fc": {"epochs": 1, "subset": 60},
    "residual-depth": {"epochs": 1, "subset": 60, "depth": 4},
    "batchnorm-lr": {"epochs": 1, "subset": 60, "depth": 4},
    "lstm-memory": {"epochs": 1, "seq_len": 8, "n_samples": 60, "hidden": 8},
    "attention-bottleneck": {"epochs": 1, "seq_len": 4, "n_samples": 60},
    "attention-scaling": {"epochs": 1, "seq_len": 4, "n_samples": 60, "d_model": 8, "layers": 1},
}


def test_there_are_lessons_for_all_nine_posts_and_every_spec_validates():
    assert {x.post for x in LESSONS} >= POSTS and len(LESSONS) >= 9
    for lesson in LESSONS:
        assert lesson.expected in ("higher", "lower") and lesson.claim.endswith(".")
        plan = lesson_plan(lesson)
        assert len(plan.specs) == 2 * lesson.seeds and plan.seeds == list(range(5))
        assert lesson.parsed_metric.text == lesson.metric


@pytest.mark.parametrize("name", sorted(REDUCE))
def test_each_lesson_runs_end_to_end_in_a_reduced_form(name, db_url):
    lesson = get_lesson(name)
    extra = {} if name == "vanishing-gradient" else {"snapshots": False}
    plan = lesson_plan(lesson, 2, **REDUCE[name], **extra)
    launched = launch_plan(plan, db_url, launch_in_process)
    states = wait_for_runs(db_url, launched.run_ids, poll_s=0.1, timeout_s=300)
    assert {s["status"] for s in states.values()} == {"completed"}
    outcome = evaluate_plan(db_url, plan, launched.run_ids)
    c = outcome.comparison
    assert c.seeds == 2 and c.verdict == "inconclusive" and "at least 3" in c.reason
    assert c.effect is not None


def _cli_json(capsys, *argv) -> tuple[int, dict]:
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out) if code == 0 else out


def test_lesson_list_json_lists_name_post_and_claim(capsys, db_url):
    code, rows = _cli_json(capsys, "lesson", "list", "--json", "--db", db_url)
    assert code == 0 and {tuple(sorted(r)) for r in rows} == {("claim", "name", "post")}
    assert len(rows) == len(LESSONS)


def test_lesson_run_json_shape_and_a_second_run_trains_nothing_new(capsys, db_url):
    code, out = _cli_json(capsys, "lesson", "run", "perceptron-xor", "--seeds", "3", "--json", "--db", db_url)
    assert code == 0 and out["lesson"] == "perceptron-xor" and out["experiment"] == "lesson-perceptron-xor"
    assert out["verdict"] == "supported" and len(out["run_ids"]) == 6
    c = out["comparisons"][0]
    assert {"metric", "effect", "ci_low", "ci_high", "seeds", "seeds_agreeing", "verdict"} <= set(c)
    assert c["seeds"] == 3 and c["metric"] == "val_accuracy:best"
    code, again = _cli_json(capsys, "lesson", "run", "perceptron-xor", "--seeds", "3", "--json", "--db", db_url)
    assert again["run_ids"] == out["run_ids"] and again["reused"] == 6
    code, more = _cli_json(capsys, "lesson", "run", "perceptron-xor", "--seeds", "4", "--json", "--db", db_url)
    assert more["reused"] == 6 and set(out["run_ids"]) < set(more["run_ids"])


def test_lesson_run_all_runs_every_lesson_in_one_queue_and_reports_each(capsys, db_url):
    code, out = _cli_json(capsys, "lesson", "run", "all", "--seeds", "1", "--json", "--db", db_url)
    assert code == 0 and [r["lesson"] for r in out] == [x.name for x in LESSONS]
    assert all(len(r["run_ids"]) == 2 and r["reused"] == 0 for r in out)
    assert all(r["verdict"] == "inconclusive" for r in out)  # one seed: fewer than 3 pairs
    assert "sentences" not in out[0] and {"claim", "experiment", "comparisons"} <= set(out[0])
    assert main(["lesson", "run", "all", "--seeds", "1", "--db", db_url]) == 0  # all reused: trains nothing
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [[x.name, "inconclusive"] for x in LESSONS]


def test_lesson_show_and_unknown_lessons(capsys, db_url):
    assert main(["lesson", "show", "optimizers", "--db", db_url]) == 0
    assert "claim:" in capsys.readouterr().out
    assert main(["lesson", "run", "nope", "--db", db_url]) == 2
    assert "known lessons" in capsys.readouterr().err


def test_ablate_json_shape_reuse_and_refusals(capsys, db_url):
    from jobs.run import run_experiment
    from storage.db import open_db
    from storage.lessons import experiment_names_of

    run = run_experiment({"model": "perceptron", "dataset": "and", "epochs": 20, "snapshots": False,
                          "experiment": "mine"}, db_url)
    code, out = _cli_json(capsys, "ablate", str(run.run_id), "--set", "dataset=xor", "--seeds", "3", "--json",
                          "--db", db_url)
    assert code == 0 and out["run_ids"][0] == run.run_id and out["reused"] == 1
    assert {"experiment", "run_ids", "metric", "effect", "ci_low", "ci_high", "seeds", "seeds_agreeing",
            "verdict"} <= set(out)
    assert out["effect"] < 0 and out["verdict"] == "worse"
    assert experiment_names_of(open_db(db_url), run.run_id) == ["mine", out["experiment"]]
    assert main(["ablate", str(run.run_id), "--set", "dataset=and", "--db", db_url]) == 2
    assert "changes nothing" in capsys.readouterr().err
    assert main(["ablate", str(run.run_id), "--set", "lr=-1", "--db", db_url]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("nnlab ablate: error: lr:")
    assert main(["ablate", str(run.run_id), "--set", "momentum=0.5", "--db", db_url]) == 2
    assert "does not use momentum" in capsys.readouterr().err
    assert main(["ablate", str(run.run_id), "--set", "dataset=xor", "--metric", "bogus", "--db", db_url]) == 2
