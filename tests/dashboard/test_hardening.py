"""The dashboard's server: bounded request bodies never echoed, 404 for unknown resources, cut query cells."""

from __future__ import annotations

import logging

import pytest

from callbacks.query import GRID_MAX_CHARS, _cell
from dashboard.app import MAX_REQUEST_BYTES, create_app


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    folder = tmp_path_factory.mktemp("served")
    app = create_app(f"sqlite:///{folder / 'nnlab.db'}", cache_dir=str(folder / "cache"))
    return app.server.test_client()


@pytest.mark.parametrize("path", [
    "/_dash-component-suites/dash/../../../etc/passwd",
    "/_dash-component-suites/dash/..%2f..%2f..%2fetc%2fpasswd",
    "/_dash-component-suites/dash/%2e%2e/%2e%2e/etc/passwd",
    "/_dash-component-suites/os/path.py",
    "/_dash-component-suites/dash/no-such-file.js",
    "/_dash-component-suites/no_such_package/x.js",
])
def test_traversal_and_unknown_component_paths_answer_404(client, path):
    assert client.get(path).status_code == 404


def test_an_oversized_body_is_refused_before_it_is_read_and_never_logged(client, caplog, capfd):
    marker = b"NNLAB-BODY-MARKER"
    body = marker * (MAX_REQUEST_BYTES // len(marker) + 1000)
    with caplog.at_level(logging.DEBUG):
        response = client.post("/_dash-update-component", data=body, content_type="application/json")
    assert response.status_code == 413
    out, err = capfd.readouterr()
    assert "NNLAB-BODY-MARKER" not in caplog.text + out + err


def test_a_normal_page_still_loads(client):
    assert client.get("/").status_code == 200


def test_long_query_cells_are_cut_with_a_note_and_blobs_are_summarised():
    assert _cell("x" * 50) == "x" * 50
    cut = _cell("y" * (GRID_MAX_CHARS + 300))
    assert cut.startswith("y" * GRID_MAX_CHARS) and cut.endswith("[300 more characters]")
    assert _cell("z" * 1000, limit=None) == "z" * 1000
    assert _cell(b"\x00" * 12) == "<12 bytes>" and _cell(float("nan")) == "NaN"
