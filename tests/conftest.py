"""Shared fixtures: a temporary SQLite results database, and Chromium options for dash_duo."""

from __future__ import annotations

import os

import pytest

# Warm workers started by the tests exit soon after their queue empties (the default is 10 minutes).
os.environ.setdefault("NNLAB_WORKER_IDLE_S", "3")


def pytest_setup_options():
    """dash_duo: a desktop-sized headless Chromium window."""
    from selenium.webdriver.chrome.options import Options

    options = Options()
    options.add_argument("--window-size=1400,1000")
    options.add_argument("--disable-background-networking")
    options.add_argument("--disable-component-update")
    return options


@pytest.fixture
def db_url(tmp_path) -> str:
    """A fresh SQLite results database file for one test."""
    return f"sqlite:///{tmp_path / 'results.db'}"


@pytest.fixture
def small_disk(tmp_path):
    """A 2 MB tmpfs mounted on a temporary folder (unmounted afterwards): a disk a test can fill.
    Mounting needs root (CAP_SYS_ADMIN): the test skips, saying why, where the machine does not allow it."""
    import subprocess

    from storage.db import close_all

    where = tmp_path / "small"
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip() or 'mount failed'}); needs root")
    try:
        yield where
    finally:
        close_all()
        subprocess.run(["umount", "-l", str(where)], capture_output=True)
