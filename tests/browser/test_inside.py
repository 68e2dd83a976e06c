"""Inside views in a real browser: scrub a finished run's epochs; compare attention heads side by side.

Set NNLAB_SCREENSHOTS=<dir> to also save the side-by-side screenshots (docs/inside-*.png).
"""

from __future__ import annotations

import os

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.keys import Keys

pytestmark = pytest.mark.browser

SEQ = {"dataset": "sentiment", "n_samples": 160, "seq_len": 10, "d_model": 16, "hidden": "16", "epochs": 2}


def _figure_data(duo, graph_css: str) -> list:
    """The traces Plotly drew in a dcc.Graph, read from the page (z as plain nested lists)."""
    return duo.driver.execute_script(
        "const el = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "if (!el || !el._fullData) { return []; }"
        "return el._fullData.map(t => ({type: t.type, name: t.name || '',"
        "  z: t.z ? Array.from(t.z, row => Array.from(row)) : null}));",
        graph_css)


def _screenshot(duo, css: str, name: str) -> None:
    """Save a PNG of one element (via the DevTools protocol) when NNLAB_SCREENSHOTS names a folder."""
    folder = os.environ.get("NNLAB_SCREENSHOTS")
    if not folder:
        return
    import base64

    os.makedirs(folder, exist_ok=True)
    x, y, w, h = duo.driver.execute_script(
        "const r = arguments[0].getBoundingClientRect();"
        "return [r.left + window.scrollX, r.top + window.scrollY, r.width, r.height];", duo.find_element(css))
    shot = duo.driver.execute_cdp_cmd("Page.captureScreenshot", {
        "format": "png", "captureBeyondViewport": True,
        "clip": {"x": x, "y": y, "width": w, "height": h, "scale": 1}})
    with open(os.path.join(folder, name), "wb") as f:
        f.write(base64.b64decode(shot["data"]))


def _compare(duo, run_ids, view: str) -> None:
    """Open the compare page on `view` and pick the runs in its Runs dropdown, as a user does."""
    duo.wait_for_page(url=f"{duo.server_url}/compare?inside={view}")
    duo.wait_for_element("#compare-runs", timeout=10).click()
    for rid in run_ids:
        duo.wait_for_element(f".dash-dropdown-option input[value='{rid}']", timeout=10)
        duo.find_element(f".dash-dropdown-option input[value='{rid}']").click()
    duo.find_element("body").send_keys(Keys.ESCAPE)
    duo.wait_for_contains_text("#compare-runs", f"#{run_ids[-1]}", timeout=10)


def _longest_probe_sentence(db_url) -> tuple[int, list[str]]:
    """(probe example, its words) of the longest sentence in run 1's probe batch."""
    import numpy as np

    from storage.db import open_db
    from storage.snapshots import read_snapshot

    engine = open_db(db_url)
    x = read_snapshot(engine, 1, "probe", "x", 0)
    names = read_snapshot(engine, 1, "probe", "meta", 0)["token_names"]
    i = int(np.argmax((x != 0).sum(axis=1)))
    return i, [names[t] for t in x[i] if t != 0]


def _open_inside_tab(duo, run_id: int) -> None:
    duo.wait_for_page(url=f"{duo.server_url}/run/{run_id}")
    duo.wait_for_element("#run-tabs", timeout=10)
    next(t for t in duo.find_elements("#run-tabs .nav-link") if t.text == "Inside").click()


def test_scrubbing_the_epoch_slider_changes_the_views_of_a_finished_run(start_app, db_url):
    from jobs.run import run_experiment

    run_experiment({"model": "mlp", "dataset": "moons", "epochs": 6, "n_samples": 300, "hidden": "16",
                    "lr": 0.05}, db_url)
    duo = start_app()
    _open_inside_tab(duo, 1)
    boundary = "[id='{\"type\":\"inside-view\",\"view\":\"boundary\"}']"
    duo.wait_for_text_to_equal("#inside-epoch-label", "epoch 6", timeout=20)
    duo.wait_for_element(boundary + " .heatmaplayer", timeout=20)
    titles = " ".join(e.text for e in duo.find_elements(".inside-view h6"))
    for view in ("Decision boundary", "Gradient flow", "Activations by depth", "Confusion matrix"):
        assert view in titles
    assert "Attention" not in titles and "filters" not in titles  # views of other families stay hidden
    last = next(t["z"] for t in _figure_data(duo, boundary) if t["type"] == "heatmap")

    thumb = duo.find_element("#inside-epoch [role='slider']")
    thumb.send_keys(Keys.HOME)
    duo.wait_for_text_to_equal("#inside-epoch-label", "epoch 0", timeout=15)
    duo.wait_for_contains_text(".inside-view h6", "epoch 0", timeout=15)
    first = next(t["z"] for t in _figure_data(duo, boundary) if t["type"] == "heatmap")
    assert first != last  # the untrained boundary is not the trained one

    thumb.send_keys(Keys.ARROW_RIGHT)
    thumb.send_keys(Keys.ARROW_RIGHT)
    duo.wait_for_text_to_equal("#inside-epoch-label", "epoch 2", timeout=15)
    # the views show epoch 2, or the nearest recorded before it when the time cap skipped epoch 2
    from storage.db import open_db
    from storage.snapshots import snapshot_index

    shown = max(e for e in snapshot_index(open_db(db_url), 1)["boundary"] if e <= 2)
    duo.wait_for_contains_text(".inside-view h6", f"epoch {shown}", timeout=15)

    duo.find_element("#inside-play").click()  # play runs to the last epoch and stops
    duo.wait_for_text_to_equal("#inside-epoch-label", "epoch 6", timeout=20)
    duo.wait_for_text_to_equal("#inside-play", "▶ Play", timeout=10)
    assert duo.get_logs() == []


def test_side_by_side_attention_of_runs_with_different_head_counts(start_app, db_url):
    from jobs.run import run_experiment

    for heads in (1, 4):
        run_experiment({"model": "transformer", "heads": heads, **SEQ}, db_url)
    duo = start_app()
    _compare(duo, [1, 2], "attention")
    figure = "#compare-inside-figure"
    duo.wait_for_element(figure + " .heatmaplayer", timeout=30)
    duo.wait_for_contains_text("#compare-inside-note", "Same probe inputs", timeout=10)
    heat = [t for t in _figure_data(duo, figure) if t["type"] == "heatmap"]
    assert len(heat) == 1 + 4  # one panel per head of each run
    titles = " ".join(e.text for e in duo.find_elements(figure + " .annotation-text"))
    assert "heads=1 · head 1" in titles and "heads=4 · head 4" in titles
    # pick the longest probe sentence: the axes show its words (padding dropped) in every panel
    words = _longest_probe_sentence(db_url)
    example = duo.find_element("#compare-inside-example")
    example.clear()
    example.send_keys(str(words[0]), Keys.ENTER)
    duo.wait_for_text_to_equal(figure + " .xaxislayer-above .xtick:last-child text", words[1][-1], timeout=15)
    ticks = [e.text for e in duo.find_elements(figure + " .xaxislayer-above")[0].find_elements("css selector", ".xtick text")]
    assert ticks == words[1]
    # each drawn row is a whole attention row: padding keys carry no weight, so the shown keys sum to 1
    for trace in (t for t in _figure_data(duo, figure) if t["type"] == "heatmap"):
        assert all(abs(sum(row) - 1) < 2e-3 for row in trace["z"])
    _screenshot(duo, figure, "inside-heads.png")
    assert duo.get_logs() == []


def test_side_by_side_gradient_flow_of_plain_and_residual_nets(start_app, db_url):
    from jobs.run import run_experiment

    for residual in (False, True):
        run_experiment({"model": "resnet", "dataset": "digits", "depth": 20, "hidden": "16", "epochs": 1,
                        "subset": 300, "residual": residual, "lr": 0.01}, db_url)
    duo = start_app()
    _compare(duo, [1, 2], "gradients")
    figure = "#compare-inside-figure"
    duo.wait_for_element(figure + " .scatterlayer .trace", timeout=30)
    names = {t["name"] for t in _figure_data(duo, figure)}
    assert names == {"#1 residual=False", "#2 residual=True"}
    _screenshot(duo, figure, "inside-gradient-flow.png")
    assert duo.get_logs() == []
    # the address bar keeps the inside settings, and opening that address restores them
    duo.wait_for_page(url=f"{duo.server_url}/compare?runs=1,2&inside=gradients&epoch=0&layer=0")
    duo.wait_for_element(figure + " .scatterlayer .trace", timeout=30)
    thumb = duo.find_element("#compare-inside-epoch [role='slider']")
    assert thumb.get_attribute("aria-valuenow") == "0"  # not moved to the newest epoch
    search = lambda: duo.driver.execute_script("return window.location.search")  # noqa: E731
    until(lambda: "epoch=0" in search() and "inside=gradients" in search(), timeout=10)
    thumb.send_keys(Keys.ARROW_RIGHT)
    until(lambda: "epoch=1" in search(), timeout=10)
    example = duo.find_element("#compare-inside-example")
    example.send_keys("3", Keys.ENTER)
    until(lambda: "example=3" in search(), timeout=10)
    assert "runs=1%2C2" in search()
    assert duo.get_logs() == []
