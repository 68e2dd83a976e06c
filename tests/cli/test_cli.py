"""`nnlab` as a user runs it: a real subprocess, a real SQLite file."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def nnlab(*args, env_db=None, check=False):
    env = dict(os.environ, PYTHONPATH=ROOT)
    env.pop("NNLAB_DB", None)
    if env_db:
        env["NNLAB_DB"] = env_db
    proc = subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def count_runs(db_url):
    from storage import reads
    from storage.db import open_db

    return reads.count_runs(open_db(db_url))


def test_train_json_reports_run_status_and_final_metrics(db_url):
    proc = nnlab("train", "--dataset", "digits", "--model", "mlp", "--hidden", "64", "--optimizer", "adam",
                 "--lr", "0.001", "--batch-size", "32", "--dropout", "0.2", "--epochs", "3", "--seed", "0",
                 "--db", db_url, "--json", check=True)
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["run_id"] == 1 and out["status"] == "completed"
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr", "epoch_seconds"):
        assert key in out
    assert out["num_params"] == 64 * 64 + 64 + 64 * 10 + 10
    assert 0.5 < out["val_accuracy"] <= 1.0
    assert "epoch 3/3" in proc.stderr  # the progress bar


def test_train_prints_run_id_and_uses_nnlab_db_env(tmp_path):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    proc = nnlab("train", "--dataset", "xor", "--hidden", "4", "--epochs", "2", "--quiet", env_db=url, check=True)
    assert proc.stdout.strip() == "run 1 completed"
    assert count_runs(url) == 1


@pytest.mark.parametrize("args, field, words", [
    (["--lr", "0"], "lr", "> 0"),
    (["--lr", "-1"], "lr", "> 0"),
    (["--dropout", "1"], "dropout", "[0, 1)"),
    (["--dropout", "-0.1"], "dropout", "[0, 1)"),
    (["--epochs", "0"], "epochs", "between 1"),
    (["--hidden", ""], "hidden", "at least one positive integer"),
    (["--hidden", "64,x"], "hidden", "not an integer"),
    (["--hidden", "64,,0"], "hidden", "whole number >= 1"),
    (["--activation", "swish"], "activation", "unknown activation"),
    (["--momentum", "-0.5"], "momentum", "[0, 1)"),
    (["--schedule", "step", "--gamma", "0"], "gamma", "(0, 1]"),
    (["--schedule", "warmup", "--warmup-epochs", "2"], "warmup_epochs", "must end before the run does"),
    (["--model", "cnn", "--pool-size", "3"], "pool_size", "2x2 feature map of conv layer 2"),
    (["--model", "resnet", "--depth", "9"], "depth", "even number"),
])
def test_bad_input_exits_2_names_the_field_and_creates_no_run(db_url, args, field, words):
    proc = nnlab("train", "--dataset", "digits", "--epochs", "2", *args, "--db", db_url)
    assert proc.returncode == 2
    assert f"{field}:" in proc.stderr and words in proc.stderr
    assert count_runs(db_url) == 0


def test_train_help_lists_every_spec_field_and_the_schedule_and_pool_knobs():
    import dataclasses

    from engine.spec import ExperimentSpec

    out = " ".join(nnlab("train", "--help", check=True).stdout.split())  # argparse wraps lines
    for f in dataclasses.fields(ExperimentSpec):
        assert "--" + f.name.replace("_", "-") in out
    for words in ("--step-size STEP_SIZE step schedule: epochs between learning-rate drops",
                  "--gamma GAMMA step schedule", "(default: 0.5)",
                  "--warmup-epochs WARMUP_EPOCHS warmup schedule", "--pool-size POOL_SIZE CNN pooling window",
                  "(1 = no pooling)", "an even number from 2 to 200"):
        assert words in out, words


def test_runs_lists_in_table_json_and_csv(db_url):
    nnlab("train", "--dataset", "xor", "--hidden", "4", "--epochs", "2", "--quiet", "--db", db_url, check=True)
    nnlab("train", "--dataset", "xor", "--hidden", "8", "--epochs", "2", "--quiet", "--optimizer", "sgd",
          "--lr", "0.5", "--db", db_url, check=True)
    table = nnlab("runs", "--db", db_url, check=True).stdout
    assert "completed" in table and "xor" in table
    rows = json.loads(nnlab("runs", "--db", db_url, "--format", "json", check=True).stdout)
    assert sorted(r["id"] for r in rows) == [1, 2]
    assert {r["params"]["optimizer"] for r in rows} == {"adam", "sgd"}
    parsed = list(csv.DictReader(io.StringIO(nnlab("runs", "--db", db_url, "--format", "csv", check=True).stdout)))
    assert sorted(int(r["id"]) for r in parsed) == [1, 2]
    only_sgd = json.loads(nnlab("runs", "--db", db_url, "--format", "json", "--param", "optimizer=sgd",
                                check=True).stdout)
    assert [r["id"] for r in only_sgd] == [2]


def test_query_refuses_writes_and_answers_reads(db_url):
    nnlab("train", "--dataset", "xor", "--hidden", "4", "--epochs", "3", "--quiet", "--db", db_url, check=True)
    refused = nnlab("query", "DELETE FROM runs", "--db", db_url)
    assert refused.returncode == 2 and "refused" in refused.stderr.lower()
    assert count_runs(db_url) == 1
    out = nnlab("query", "SELECT step, value FROM metrics WHERE key = 'val_accuracy' ORDER BY step",
                "--db", db_url, "--format", "json", check=True).stdout
    assert [r["step"] for r in json.loads(out)] == [1, 2, 3]


def test_show_and_export(db_url, tmp_path):
    nnlab("train", "--dataset", "xor", "--hidden", "4", "--epochs", "3", "--quiet", "--db", db_url, check=True)
    shown = nnlab("show", "1", "--db", db_url, check=True).stdout
    assert "val_accuracy" in shown and "completed" in shown
    table = {line.split()[0]: line.split() for line in shown.splitlines() if line.split()}
    assert len(table["val_accuracy"]) == 5 and table["val_accuracy"][4] in {"1", "2", "3"}  # best, and when
    assert len(table["lr"]) == 3  # a learning rate has no best: last and its epoch only
    out = tmp_path / "metrics.csv"
    nnlab("export", "--db", db_url, "--format", "csv", "--out", str(out), check=True)
    rows = list(csv.DictReader(out.open()))
    assert {r["key"] for r in rows} >= {"train_loss", "val_loss", "val_accuracy"}
    assert len([r for r in rows if r["key"] == "val_loss"]) == 3


def test_progress_is_a_bar_on_a_terminal_and_plain_lines_in_a_log():
    import io
    from types import SimpleNamespace

    from cli import progress

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    def epoch(i):
        return SimpleNamespace(epoch=i, metrics={"train_loss": 1.0 / i, "val_loss": 1.0, "val_accuracy": 0.5})

    tty = Terminal()
    bar = progress.ProgressBar(3, stream=tty)
    for i in (1, 2, 3):
        bar.update(epoch(i), 3)
    bar.close()
    assert tty.getvalue().count("\r[") == 3 and tty.getvalue().endswith("\n")

    log = io.StringIO()
    bar = progress.ProgressBar(500, stream=log)
    for i in range(1, 201):  # a run stopped early at epoch 200, all within a second
        bar.update(epoch(i), 500)
    bar.close()
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0].startswith("epoch 1/500") and lines[-1].startswith("epoch 200/500") and len(lines) == 2


def test_unscaled_and_no_scaled_train_a_transformer_with_raw_attention_scores(db_url):
    for flag in ("--unscaled", "--no-scaled"):
        out = nnlab("train", "--model", "transformer", "--dataset", "reverse", "--seq-len", "4", "--n-samples", "40",
                    "--d-model", "8", "--epochs", "1", flag, "--json", "--db", db_url, check=True).stdout
        run = json.loads(nnlab("show", str(json.loads(out)["run_id"]), "--json", "--db", db_url, check=True).stdout)
        assert run["params"]["scaled"] is False
