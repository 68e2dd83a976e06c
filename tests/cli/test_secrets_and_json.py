"""No password in any output; every JSON output is strict (NaN and Infinity become null)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from cli.format import render, to_json
from tests.storage.conftest import fresh_postgres_db, postgres_url  # noqa: F401 (fixture)

ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict:
    """No NNLAB_ settings of the caller's, but a short worker idle (the server prestarts a worker)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NNLAB_")}
    return dict(env, PYTHONPATH=str(ROOT), NNLAB_WORKER_IDLE_S="3")


def _strict(text: str):
    def refuse(constant):
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def test_json_output_is_strict_and_blobs_are_summarised():
    rows = [(1, float("nan"), float("inf"), b"\x00" * 10, "x")]
    parsed = _strict(render(("id", "a", "b", "blob", "s"), rows, "json"))
    assert parsed == [{"id": 1, "a": None, "b": None, "blob": "<10 bytes>", "s": "x"}]
    assert _strict(to_json({"m": {"k": [float("-inf"), 1.5]}})) == {"m": {"k": [None, 1.5]}}
    assert "more characters" in render(("c",), [("q" * 1000,)])


def test_a_diverged_run_says_so_in_the_last_line_and_in_strict_json(tmp_path):
    db = f"sqlite:///{tmp_path / 'nnlab.db'}"
    args = [sys.executable, "-m", "cli", "train", "--dataset", "digits", "--optimizer", "sgd", "--lr", "10",
            "--hidden", "256,256", "--epochs", "2", "--quiet", "--no-snapshots", "--db", db]
    proc = subprocess.run([*args, "--json"], capture_output=True, text=True, env=_env(), timeout=300)
    out = _strict(proc.stdout.strip().splitlines()[-1])
    assert out["diverged"] is True
    assert any(v is None for k, v in out.items() if k.endswith("loss"))
    plain = subprocess.run(args, capture_output=True, text=True, env=_env(), timeout=300)
    assert plain.stdout.strip().splitlines()[-1].endswith("(diverged)")
    for command in (["runs", "--format", "json"], ["show", "1", "--json"], ["export", "--format", "json"],
                    ["query", "SELECT value FROM metrics", "--format", "json"]):
        listed = subprocess.run([sys.executable, "-m", "cli", *command, "--db", db], capture_output=True, text=True,
                                env=_env(), timeout=120)
        assert listed.returncode == 0, listed.stderr
        _strict(listed.stdout)
    blob = subprocess.run([sys.executable, "-m", "cli", "query", "SELECT randomblob(10) AS b", "--format", "json",
                           "--db", db], capture_output=True, text=True, env=_env(), timeout=120)
    assert blob.returncode == 0 and _strict(blob.stdout) == [{"b": "<10 bytes>"}]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.postgres
def test_serve_and_create_reader_mask_passwords(postgres_url, tmp_path):  # noqa: F811
    db = fresh_postgres_db(postgres_url)
    with_password = make_url(db).set(password="s3cret-pw").render_as_string(hide_password=False)  # trust auth
    proc = subprocess.Popen([sys.executable, "-m", "cli", "serve", "--db", with_password, "--port", str(_free_port()),
                             "--cache-dir", str(tmp_path / "cache")], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=_env(), cwd=tmp_path)
    try:
        banner = proc.stdout.readline()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert "NN Lab dashboard on" in banner and "s3cret-pw" not in banner and "***" in banner
    made = subprocess.run([sys.executable, "-m", "cli", "db", "create-reader", "--db", with_password,
                           "--name", "nnlab_reader_masked"], capture_output=True, text=True, env=_env(), timeout=120)
    assert made.returncode == 0, made.stderr
    url = made.stdout.strip()
    assert make_url(url).username == "nnlab_reader_masked" and make_url(url).password == "***"
    assert "s3cret-pw" not in made.stdout + made.stderr
    shown = subprocess.run([sys.executable, "-m", "cli", "db", "create-reader", "--db", with_password,
                            "--name", "nnlab_reader_masked", "--show-password"], capture_output=True, text=True,
                           env=_env(), timeout=120)
    reader = shown.stdout.strip()
    assert len(make_url(reader).password) > 20
    refused = subprocess.run([sys.executable, "-m", "cli", "query", "SELECT count(*) FROM runs", "--db", with_password],
                             capture_output=True, text=True, env=_env(), timeout=120)
    assert refused.returncode == 2 and "nnlab db create-reader" in refused.stderr and "s3cret-pw" not in refused.stderr
    answered = subprocess.run([sys.executable, "-m", "cli", "query", "SELECT count(*) FROM runs", "--db", with_password,
                               "--query-db", reader, "--format", "json"], capture_output=True, text=True, env=_env(),
                              timeout=120)
    assert answered.returncode == 0, answered.stderr
    assert _strict(answered.stdout) == [{"count": 0}]
    via_env = subprocess.run([sys.executable, "-m", "cli", "query", "SELECT 1 AS one", "--db", with_password],
                             capture_output=True, text=True, env=dict(_env(), NNLAB_QUERY_DB=reader), timeout=120)
    assert via_env.returncode == 0 and "one" in via_env.stdout
