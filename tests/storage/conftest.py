"""Fixtures: a fresh SQLite file per test, and a throwaway PostgreSQL cluster per session.

The PostgreSQL fixture runs initdb/pg_ctl from /usr/lib/postgresql/*/bin (or PATH) as an unprivileged
user (initdb refuses root: as root it creates the system user `nnlabpg` and uses runuser), on a free
port with its socket and data in a temporary folder, and removes everything afterwards. Without the
binaries the `postgres` tests are skipped.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest

from storage.db import close_all, open_db

PG_USER = "nnlabpg"
_db_counter = itertools.count()


def _pg_bin_dir() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_pg_user(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", PG_USER, "--", *cmd] if os.geteuid() == 0 else cmd


@pytest.fixture(scope="session")
def postgres_url():
    """A postgresql+psycopg URL of an empty database on a private, temporary PostgreSQL server."""
    pytest.importorskip("psycopg")
    bin_dir = _pg_bin_dir()
    if bin_dir is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not found")
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(PG_USER)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
                           check=True, capture_output=True)
    tmp = Path(tempfile.mkdtemp(prefix="nnlab-pg-"))
    if os.geteuid() == 0:
        shutil.chown(tmp, user=PG_USER)
    data, port = tmp / "data", _free_port()
    run = lambda cmd: subprocess.run(_as_pg_user(cmd), check=True, capture_output=True, text=True)  # noqa: E731
    try:
        run([str(bin_dir / "initdb"), "-D", str(data), "-U", PG_USER, "-A", "trust", "-E", "UTF8", "--no-sync"])
        options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
        run([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(tmp / "server.log"), "-w", "start"])
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {exc.stderr or exc.stdout}") from exc
    try:
        yield f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/postgres"
    finally:
        close_all()
        subprocess.run(_as_pg_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"]),
                       capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


def fresh_postgres_db(server_url: str) -> str:
    """CREATE a new empty database on the session's server; returns its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(server_url)
    name = f"nnlab_t{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname="postgres", autocommit=True) as c:
        c.execute(f"CREATE DATABASE {name}")
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a not-yet-created SQLite file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'nnlab.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path) -> str:
    """A fresh database URL, once for SQLite and once for PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nnlab.db'}"
    return fresh_postgres_db(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(db_url):
    """An opened (migrated) Engine on `db_url`; disposed after the test."""
    eng = open_db(db_url)
    yield eng
    close_all()


@pytest.fixture
def sqlite_engine(sqlite_url):
    """An opened (migrated) Engine on a fresh SQLite file."""
    eng = open_db(sqlite_url)
    yield eng
    close_all()
