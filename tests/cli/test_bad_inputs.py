"""Every bad input of every command: exit 2, one line naming the field, no traceback, nothing changed.

CASES is the table: (command words, arguments, words the one line must contain). `{db}` is a database
with a completed run, `{tmp}` a scratch folder, `{bad}` a folder of unusable database files. A command
without `--db` among its arguments gets `--db {db}`. A new command adds its bad inputs here, one row each.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

import storage as s
from cli.main import main
from storage.db import checkpoint, close_all
from tests.storage.conftest import postgres_url  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]
LONG = "x" * 201
SQL_200K = "SELECT " + "/* " * 66_000
SECRET = "hunter2-secret"
UNREACHABLE = f"postgresql+psycopg://lab:{SECRET}@127.0.0.1:1/nnlab"

CASES = [
    # train: the spec, field by field
    ("train", ["--lr", "0"], "lr:"),
    ("train", ["--lr", "-1"], "lr:"),
    ("train", ["--lr", "nan"], "lr:"),
    ("train", ["--lr", "inf"], "lr:"),
    ("train", ["--lr", "11"], "lr:"),
    ("train", ["--lr", "abc"], "lr:"),
    ("train", ["--momentum", "-0.5"], "momentum:"),
    ("train", ["--momentum", "1"], "momentum:"),
    ("train", ["--batch-size", "0"], "batch_size:"),
    ("train", ["--batch-size", "1.5"], "batch_size:"),
    ("train", ["--epochs", "0"], "epochs:"),
    ("train", ["--epochs", "100001"], "epochs:"),
    ("train", ["--epochs", "1e400"], "epochs:"),
    ("train", ["--seed", "-1"], "seed:"),
    ("train", ["--seed", "4294967296"], "seed:"),
    ("train", ["--schedule", "bogus"], "schedule:"),
    ("train", ["--schedule", "step", "--step-size", "0"], "step_size:"),
    ("train", ["--schedule", "step", "--gamma", "0"], "gamma:"),
    ("train", ["--schedule", "step", "--gamma", "2"], "gamma:"),
    ("train", ["--schedule", "warmup", "--warmup-epochs", "0"], "warmup_epochs:"),
    ("train", ["--schedule", "warmup", "--warmup-epochs", "20"], "warmup_epochs:"),
    ("train", ["--clip", "-1"], "clip:"),
    ("train", ["--clip", "nan"], "clip:"),
    ("train", ["--early-stopping", "-1"], "early_stopping:"),
    ("train", ["--dropout", "1"], "dropout:"),
    ("train", ["--dropout", "-0.1"], "dropout:"),
    ("train", ["--weight-decay", "1"], "weight_decay:"),
    ("train", ["--l2", "10"], "l2:"),
    ("train", ["--hidden", ""], "hidden:"),
    ("train", ["--hidden", "64,x"], "hidden:"),
    ("train", ["--hidden", "0"], "hidden:"),
    ("train", ["--hidden", "1e400"], "hidden:"),
    ("train", ["--hidden", "nan"], "hidden:"),
    ("train", ["--hidden", "70000"], "hidden:"),
    ("train", ["--hidden", "65536,65536"], "hidden: this model would need about"),
    ("train", ["--activation", "swish"], "activation:"),
    ("train", ["--init", "zeros"], "init:"),
    ("train", ["--loss", "hinge"], "loss:"),
    ("train", ["--loss", "bce"], "loss:"),
    ("train", ["--model", "bogus"], "model:"),
    ("train", ["--dataset", "bogus"], "dataset:"),
    ("train", ["--model", "cnn", "--dataset", "xor"], "dataset:"),
    ("train", ["--model", "lstm"], "dataset:"),
    ("train", ["--model", "perceptron"], "dataset:"),
    ("train", ["--model", "seq2seq", "--dataset", "memory"], "dataset:"),
    ("train", ["--model", "cnn", "--channels", "0"], "channels:"),
    ("train", ["--model", "cnn", "--channels", "100000,100000"], "channels: this model would need about"),
    ("train", ["--model", "cnn", "--kernel", "0"], "kernel:"),
    ("train", ["--model", "cnn", "--kernel", "29"], "kernel:"),
    ("train", ["--model", "cnn", "--stride", "0"], "stride:"),
    ("train", ["--model", "cnn", "--padding", "3"], "padding:"),
    ("train", ["--model", "cnn", "--pool", "maxavg"], "pool:"),
    ("train", ["--model", "cnn", "--pool-size", "3"], "pool_size:"),
    ("train", ["--model", "cnn", "--pool-size", "0"], "pool_size:"),
    ("train", ["--model", "cnn", "--batchnorm", "--batch-size", "1"], "batch_size:"),
    ("train", ["--model", "resnet", "--depth", "9"], "depth:"),
    ("train", ["--model", "resnet", "--depth", "202"], "depth:"),
    ("train", ["--model", "lstm", "--dataset", "sort", "--seq-len", "1"], "seq_len:"),
    ("train", ["--model", "lstm", "--dataset", "sort", "--seq-len", "501"], "seq_len:"),
    ("train", ["--model", "lstm", "--dataset", "kv", "--seq-len", "3"], "seq_len:"),
    ("train", ["--model", "lstm", "--dataset", "memory", "--seq-len", "201"], "seq_len:"),
    ("train", ["--model", "lstm", "--dataset", "sort", "--vocab", "1"], "vocab:"),
    ("train", ["--model", "lstm", "--dataset", "sort", "--layers", "13"], "layers:"),
    ("train", ["--model", "transformer", "--dataset", "sort", "--heads", "3"], "heads:"),
    ("train", ["--model", "transformer", "--dataset", "sort", "--heads", "0"], "heads:"),
    ("train", ["--model", "transformer", "--dataset", "sort", "--d-model", "5000"], "d_model:"),
    ("train", ["--model", "transformer", "--dataset", "sort", "--norm", "mid"], "norm:"),
    ("train", ["--model", "seq2seq", "--dataset", "sort", "--attention", "bahdanau"], "attention:"),
    ("train", ["--model", "transformer", "--dataset", "sort", "--positional", "rotary"], "positional:"),
    ("train", ["--model", "transformer", "--dataset", "sort", "--d-model", "4096", "--heads", "64",
               "--layers", "12", "--seq-len", "500", "--hidden", "4096"], "d_model: this model would need about"),
    ("train", ["--dataset", "moons", "--noise", "6"], "noise:"),
    ("train", ["--dataset", "moons", "--n-samples", "7"], "n_samples:"),
    ("train", ["--subset", "1"], "subset:"),
    ("train", ["--val-fraction", "0"], "val_fraction:"),
    ("train", ["--val-fraction", "0.95"], "val_fraction:"),
    ("train", ["--snapshot-budget-mb", "0"], "snapshot_budget_mb:"),
    ("train", ["--snapshot-budget-mb", "nan"], "snapshot_budget_mb:"),
    ("train", ["--snapshots", "--snapshot-budget-mb", "1e9"], "snapshot_budget_mb:"),
    ("train", ["--name", LONG], "name: is 201 characters long; at most 200"),
    ("train", ["--name", "x" * 300], "name:"),
    ("train", ["--name", "bad\udcffutf8"], "name:"),
    ("train", ["--name", "nul\x00byte"], "name:"),
    ("train", ["--name", "line\nbreak"], "name:"),
    ("train", ["--experiment", "e" * 300], "experiment:"),
    ("train", ["--experiment", "\udcfe"], "experiment:"),
    ("train", ["--tags", "t" * 101], "tags: is 101 characters long; at most 100"),
    ("train", ["--tags", ",".join(f"t{i}" for i in range(51))], "tags: 51 tags"),
    ("train", ["--tags", "ok,bad\udcff"], "tags:"),
    ("train", ["--dataset", "mnist", "--data-dir", "/nonexistent"], "data_dir:"),
    ("train", ["--dataset", "mnist", "--data-dir", "a\x00b"], "data_dir:"),
    ("train", ["--threads", "-1"], "--threads"),
    ("train", ["--threads", "1000"], "--threads"),
    ("train", ["--bogus-option", "1"], "--bogus-option"),
    # train: unusable databases (nothing may be created or changed)
    ("train", ["--db", ""], "--db: is empty"),
    ("train", ["--db", "   "], "--db: is empty"),
    ("train", ["--db", ":memory:"], "--db: an in-memory"),
    ("train", ["--db", "sqlite://"], "--db: an in-memory"),
    ("train", ["--db", "sqlite:///:memory:"], "--db: an in-memory"),
    ("train", ["--db", "{tmp}"], "is a folder"),
    ("train", ["--db", "mysql://u@127.0.0.1/x"], "'mysql' databases are not supported"),
    ("train", ["--db", "oracle://u@h/x"], "'oracle' databases are not supported"),
    ("train", ["--db", "postgresql+asyncpg://u@127.0.0.1/x"], "--db: the driver"),
    ("train", ["--db", UNREACHABLE], "--db: cannot use the database"),
    ("train", ["--db", "{bad}/text.db"], "file is not a database"),
    ("train", ["--db", "{bad}/random.db"], "file is not a database"),
    ("train", ["--db", "{bad}/truncated.db"], "--db: cannot use the database"),
    ("train", ["--db", "{bad}/newer.db"], "--db: The database"),
    ("train", ["--db", "sqlite:///file:{db_path}?mode=ro&uri=true"], "readonly database"),
    ("train", ["--db", "{tmp}/no/such/folder/x.db"], "--db: cannot use the database"),
    # runs
    ("runs", ["--sort", "bogus"], "--sort: cannot sort by 'bogus'"),
    ("runs", ["--sort", "metric:val_loss"], "--sort"),
    ("runs", ["--sort", "metric:val_loss:worst"], "--sort"),
    ("runs", ["--status", "bogus"], "--status"),
    ("runs", ["--limit", "0"], "--limit"),
    ("runs", ["--limit", "-5"], "--limit"),
    ("runs", ["--limit", "x"], "--limit"),
    ("runs", ["--offset", "-1"], "--offset"),
    ("runs", ["--param", "optimizer"], "param:"),
    ("runs", ["--tag", "t" * 101], "--tag"),
    ("runs", ["--search", "a\x00b"], "--search"),
    ("runs", ["--experiment", "bad\udcff"], "--experiment"),
    ("runs", ["--format", "xml"], "--format"),
    ("runs", ["--db", "{tmp}/missing.db"], "--db: no database file"),
    ("runs", ["--db", "{bad}/text.db"], "file is not a database"),
    ("runs", ["--db", "{bad}/newer.db"], "--db: The database"),
    ("runs", ["--db", UNREACHABLE], "--db: cannot use the database"),
    # show
    ("show", ["0"], "argument run"),
    ("show", ["-1"], "argument run"),
    ("show", ["x"], "argument run"),
    ("show", ["99"], "run: no run 99"),
    ("show", ["1", "--db", "{tmp}/missing.db"], "--db: no database file"),
    ("show", ["1", "--db", "{bad}/truncated.db"], "--db: cannot use the database"),
    # export
    ("export", ["--out", "{tmp}/no/such/folder/x.csv"], "--out"),
    ("export", ["--out", "{tmp}"], "--out"),
    ("export", ["--out", ""], "--out"),
    ("export", ["--limit", "0"], "--limit"),
    ("export", ["--runs", "0"], "--runs"),
    ("export", ["--runs", "x"], "--runs"),
    ("export", ["--snapshots", "{bad}/text.db"], "--snapshots"),
    ("export", ["--snapshots", "{tmp}/no/such/folder"], "--snapshots"),
    ("export", ["--format", "xml"], "--format"),
    ("export", ["--db", "{tmp}/missing.db"], "--db: no database file"),
    # query
    ("query", ["SELECT 1", "--max-rows", "-2"], "--max-rows"),
    ("query", ["SELECT 1", "--max-rows", "0"], "--max-rows"),
    ("query", ["SELECT 1", "--max-rows", "100001"], "--max-rows"),
    ("query", ["SELECT 1", "--timeout", "nan"], "--timeout"),
    ("query", ["SELECT 1", "--timeout", "inf"], "--timeout"),
    ("query", ["SELECT 1", "--timeout", "0"], "--timeout"),
    ("query", ["SELECT 1", "--timeout", "-1"], "--timeout"),
    ("query", ["SELECT 1", "--timeout", "301"], "--timeout"),
    ("query", ["DELETE FROM runs"], "refused: Only read queries"),
    ("query", ["SELECT * FROM runs WHERE id IN (DELETE FROM runs RETURNING id)"], "refused: DELETE"),
    ("query", ["SELECT 1; DROP TABLE runs"], "refused"),
    ("query", ['SELECT "load_extension"(\'x\')'], "refused"),
    ("query", ["ATTACH DATABASE '{tmp}/x.db' AS x"], "refused"),
    ("query", [SQL_200K], "refused: The query is too long"),
    ("query", [""], "refused: The query is empty"),
    ("query", ["SELECT '\udcff'"], "refused: The query is not valid UTF-8"),
    ("query", ["SELECT 1", "--query-db", ""], "--query-db: is empty"),
    ("query", ["SELECT 1", "--query-db", ":memory:"], "--query-db: an in-memory"),
    ("query", ["SELECT 1", "--format", "xml"], "--format"),
    # serve
    ("serve", ["--port", "0"], "--port"),
    ("serve", ["--port", "70000"], "--port"),
    ("serve", ["--port", "http"], "--port"),
    ("serve", ["--max-running", "-1"], "--max-running"),
    ("serve", ["--max-running", "65"], "--max-running"),
    ("serve", ["--cache-dir", "{bad}/text.db"], "--cache-dir"),
    ("serve", ["--query-db", "sqlite://"], "--query-db"),
    # sweep (the table grows with each command: one row per bad input)
    ("sweep", [], "grid:"),
    ("sweep", ["--grid", "lr"], "grid:"),
    ("sweep", ["--grid", "optimizer=sgd,bogus"], "optimizer:"),
    ("sweep", ["--grid", "seed=0..100000"], "seed:"),
    ("sweep", ["--grid", "optimizer=sgd", "--max-running", "0"], "--max-running"),
    ("sweep", ["--grid", "optimizer=sgd", "--name", LONG], "name:"),
    ("sweep", ["--grid", "optimizer=sgd", "--experiment", "e" * 201], "experiment:"),
    ("sweep", ["--grid", "hidden=65536,65536"], "hidden: this model would need about"),
    ("sweep", ["--grid", "lr=0.1,0"], "lr:"),
    ("sweep", ["--grid", "optimizer=sgd", "--db", ":memory:"], "--db: an in-memory"),
    # cancel
    ("cancel", [], "give run ids or --experiment"),
    ("cancel", ["99"], "no run 99"),
    ("cancel", ["x"], "argument RUN"),
    ("cancel", ["1", "--experiment", "e"], "one of the two"),
    ("cancel", ["--experiment", "nope"], "no experiment named 'nope'"),
    ("cancel", ["1", "--db", ""], "--db: is empty"),
    # db create-reader
    ("db create-reader", ["--name", "PG_x"], "--name"),
    ("db create-reader", ["--name", "pg_reader"], "--name"),
    ("db create-reader", ["--name", "bad-name"], "--name"),
    ("db create-reader", [], "--db: needs a PostgreSQL URL"),
    # no command, unknown command
    ("", [], "required"),
    ("bogus", [], "invalid choice"),
]
NO_DB = {"", "bogus"}


def _digest(path: Path) -> str:
    wal = path.with_name(path.name + "-wal")
    return hashlib.sha256(path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")).hexdigest()


def _tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (but the lab database's -wal/-shm) with a hash of its contents."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and not p.name.endswith(("-wal", "-shm"))}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A lab database with one completed run, a scratch folder and a folder of unusable database files."""
    root = tmp_path_factory.mktemp("bad-inputs")
    db_path = root / "lab" / "nnlab.db"
    db_path.parent.mkdir()
    url = f"sqlite:///{db_path}"
    engine = s.open_db(url)
    run_id = s.create_run(engine, {}, {"lr": 0.1}, name="one", tags=["t"], status="running")
    s.log_epoch(engine, run_id, 1, {"val_loss": 0.5, "val_accuracy": 0.9})
    s.finish_run(engine, run_id, "completed")
    checkpoint(engine)
    bad = root / "bad"
    bad.mkdir()
    (bad / "text.db").write_text("hello, not a database\n")
    (bad / "random.db").write_bytes(os.urandom(4096))
    (bad / "truncated.db").write_bytes(db_path.read_bytes()[:5000])
    newer = bad / "newer.db"
    newer.write_bytes(db_path.read_bytes())
    import sqlite3

    conn = sqlite3.connect(newer)
    conn.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    conn.commit()
    conn.close()  # the last connection: its WAL is folded into the file, which no later test may change
    close_all()
    tmp = root / "scratch"
    tmp.mkdir()
    return {"db": url, "db_path": str(db_path), "tmp": str(tmp), "bad": str(bad), "root": root}


def _argv(lab, command: str, args: list[str]) -> list[str]:
    argv = command.split() + [a.format(**lab) if "{" in a else a for a in args]
    if "--db" not in argv and command not in NO_DB:
        argv += ["--db", lab["db"]]
    return argv


@pytest.mark.parametrize("command, args, words", CASES,
                         ids=[f"{c or '-'} {' '.join(a)[:40]}" for c, a, _ in CASES])
def test_bad_input_exits_2_with_one_line_naming_the_field_and_changes_nothing(lab, command, args, words,
                                                                                capsys, monkeypatch):
    monkeypatch.chdir(lab["tmp"])  # the default ./nnlab.db would land here: it must not
    monkeypatch.delenv("NNLAB_DB", raising=False)
    monkeypatch.delenv("NNLAB_QUERY_DB", raising=False)
    monkeypatch.delenv("NNLAB_DEBUG", raising=False)
    before, files = _digest(Path(lab["db_path"])), _tree(lab["root"])
    try:
        code = main(_argv(lab, command, args))
    except SystemExit as e:  # argparse refusals leave through sys.exit, as in a real run
        code = e.code
    finally:
        close_all()
    out, err = capsys.readouterr()
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, err
    assert len(lines) == 1, err
    assert words.format(**lab) in lines[0], lines[0]
    assert "Traceback" not in err and SECRET not in err and out == ""
    assert _digest(Path(lab["db_path"])) == before
    assert _tree(lab["root"]) == files


def test_the_table_covers_at_least_100_bad_inputs_and_every_command():
    assert len(CASES) >= 100
    assert {c.split()[0] for c, _, _ in CASES if c} >= {"train", "sweep", "cancel", "runs", "show", "export", "query",
                                                        "serve", "db"}


def _nnlab(*args: str | bytes, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNLAB_")}
    env.update(PYTHONPATH=str(ROOT), **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "cli", *args], capture_output=True, env=env, timeout=120)


def test_a_real_process_refuses_invalid_utf8_in_one_line_and_shows_a_traceback_only_when_asked(lab):
    bad_name = b"caf\xff"  # not UTF-8: Python hands it over as a surrogate escape
    proc = _nnlab("train", "--name", bad_name, "--db", lab["db"])
    lines = proc.stderr.decode(errors="replace").strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "name:" in lines[0]
    unreachable = ["runs", "--db", UNREACHABLE]
    quiet = _nnlab(*unreachable)
    assert quiet.returncode == 2 and b"Traceback" not in quiet.stderr and SECRET.encode() not in quiet.stderr
    loud = _nnlab(*unreachable, env_extra={"NNLAB_DEBUG": "1"})
    assert loud.returncode == 2 and b"Traceback" in loud.stderr
    assert loud.stderr.strip().splitlines()[-1].startswith(b"nnlab runs: error: --db: cannot use the database")


@pytest.mark.postgres
def test_the_length_limits_are_the_same_on_postgresql(postgres_url, capsys):  # noqa: F811
    from tests.storage.conftest import fresh_postgres_db

    db = fresh_postgres_db(postgres_url)
    longest = ["--name", "n" * 200, "--experiment", "e" * 200, "--tags", ",".join(f"{i:02d}" + "t" * 98 for i in range(50))]
    base = ["train", "--dataset", "xor", "--hidden", "4", "--epochs", "1", "--quiet", "--no-snapshots", "--db", db]
    assert main(base + longest) == 0
    for bad in (["--name", "n" * 201], ["--experiment", "e" * 201], ["--tags", "t" * 101]):
        assert main(base + bad) == 2
    close_all()
    out, err = capsys.readouterr()
    assert out.strip() == "run 1 completed" and len(err.strip().splitlines()) == 3
    run = s.get_run(s.open_db(db), 1)
    assert len(run.name) == 200 and len(run.tags) == 50 and s.count_runs(s.open_db(db)) == 1
    close_all()
