"""Issue 20 in a real browser: settings only where they apply, one colour per run, Compare and the Runs
grid at scale, the Query page's messages, the perceptron's and seq2seq's inside views."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.keys import Keys

from jobs.run import run_experiment

from .conftest import select, wait_until

pytestmark = pytest.mark.browser

MOONS = {"model": "mlp", "dataset": "moons", "n_samples": 200, "hidden": "8", "epochs": 3, "lr": 0.05}

# Console warnings (dash_duo's log only holds SEVERE entries) and the grid's block requests, recorded
# by the page itself from its first script on.
RECORDER = """
window.__warnings = []; window.__blocks = [];
const warn = console.warn;
console.warn = function() { window.__warnings.push(Array.from(arguments).join(' ')); return warn.apply(this, arguments); };
const fetch0 = window.fetch;
window.fetch = function(url, opts) {
  try { const body = JSON.parse(opts.body);
        (body.inputs || []).forEach(i => { if (i.property === 'getRowsRequest') window.__blocks.push(i.value.startRow); });
  } catch (e) {}
  return fetch0.apply(this, arguments);
};"""


def _traces(duo, graph: str) -> list[dict]:
    """What Plotly drew in a dcc.Graph: each trace's name, legend group, text and colours."""
    return duo.driver.execute_script(
        "const g = document.querySelector(arguments[0] + ' .js-plotly-plot');"
        "if (!g || !g._fullData) { return []; }"
        "const arr = v => v == null ? null : (typeof v === 'string' ? v : Array.from(v));"
        "return g._fullData.map(t => ({name: t.name || '', group: t.legendgroup || '', mode: t.mode || '',"
        "  text: arr(t.text), line: t.line ? t.line.color : null,"
        "  marker: t.marker ? arr(t.marker.color) : null, showlegend: t.showlegend}));", graph)


def _wait_traces(duo, graph: str, condition, message: str) -> list[dict]:
    wait_until(duo, lambda: condition(_traces(duo, graph)), 20, message)
    return _traces(duo, graph)


def _three_optimizers(db_url) -> None:
    run_experiment({**MOONS, "optimizer": "sgd", "name": "alpha"}, db_url)
    run_experiment({**MOONS, "optimizer": "momentum"}, db_url)
    run_experiment({**MOONS, "optimizer": "adam"}, db_url)


def test_compare_shows_a_setting_only_for_runs_that_use_it_and_one_colour_per_run(start_app, db_url):
    _three_optimizers(db_url)
    duo = start_app()
    duo.wait_for_page(url=duo.server_url + "/compare?runs=1,2,3&metric=loss&inside=gradients")
    duo.wait_for_element("#compare-curves .legendtext", timeout=20)
    legend = [e.text for e in duo.find_elements("#compare-curves .legendtext")]
    assert len(legend) == 3 and all("optimizer=" in t for t in legend)
    assert not any("momentum=" in t for t in legend)  # only run 2 uses momentum, and nothing differs there
    axes = _wait_traces(duo, "#compare-parcoords", lambda ts: any(t["mode"] == "text" for t in ts),
                        "no parallel coordinates")[-1]["text"]
    assert "<b>optimizer</b>" in axes and "<b>momentum</b>" not in axes
    duo.wait_for_contains_text("#compare-scatter-param", "optimizer", timeout=20)  # shown, not blank
    duo.wait_for_element("#compare-diff-table", timeout=20)
    settings = [e.text for e in duo.find_elements("#compare-diff-table tbody tr td:first-child")]
    assert "optimizer" in settings and "momentum" not in settings

    # one colour per run: curves (both splits), scatter points and the side-by-side inside view
    curves = _traces(duo, "#compare-curves")
    by_curves = {int(t["group"]): t["line"] for t in curves}
    assert len(set(by_curves.values())) == 3
    assert all(t["line"] == by_curves[int(t["group"])] for t in curves)
    scatter = _wait_traces(duo, "#compare-scatter", lambda ts: ts and ts[0]["marker"], "no scatter")[0]
    by_scatter = {int(label.split()[0][1:]): c for label, c in zip(scatter["text"], scatter["marker"], strict=True)}
    assert by_scatter == by_curves
    inside = _wait_traces(duo, "#compare-inside-figure", lambda ts: len(ts) >= 3, "no inside view")
    by_inside = {int(t["name"].split()[0][1:]): t["line"] for t in inside if t["name"].startswith("#")}
    assert by_inside == by_curves
    assert duo.get_logs() == []


def test_run_config_and_runs_grid_show_the_settings_runs_use(start_app, db_url):
    _three_optimizers(db_url)
    duo = start_app()
    duo.wait_for_page(url=duo.server_url + "/run/1")
    duo.wait_for_element("#run-tabs", timeout=20)
    next(t for t in duo.find_elements("#run-tabs .nav-link") if t.text == "Config").click()
    duo.wait_for_contains_text("#run-config-used", "optimizer", timeout=20)
    used = duo.find_element("#run-config-used").text
    assert "hidden" in used and "heads" not in used and "d_model" not in used and "momentum" not in used
    assert "show all settings" in duo.find_element("#run-config-all summary").text

    duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
    duo.wait_for_page(url=duo.server_url + "/runs")
    duo.wait_for_element(".ag-row[row-id='3']", timeout=15)
    headers = duo.driver.execute_script(
        "return dash_ag_grid.getApi('runs-grid').getColumnDefs().map(c => c.headerName || c.field);")
    assert "optimizer" in headers and "heads" not in headers and "momentum" not in headers
    assert len(headers) == len({h.lower() for h in headers})  # no 'Epochs' beside 'epochs'
    duo.find_element("#runs-all-settings").click()  # "show all settings" brings the rest back
    wait_until(duo, lambda: "momentum" in duo.driver.execute_script(
        "return dash_ag_grid.getApi('runs-grid').getColumnDefs().map(c => c.headerName || c.field);"), 10,
        "show all settings did not add the momentum column")

    duo.wait_for_text_to_equal("#runs-count", "3 runs", timeout=20)
    search = duo.find_element("#runs-search")
    search.send_keys("alpha", Keys.ENTER)
    duo.wait_for_text_to_equal("#runs-count", "1 of 3 runs", timeout=20)
    wait_until(duo, lambda: len(duo.find_elements(".ag-center-cols-container .ag-row")) == 1, 20, "search")
    search.send_keys(Keys.CONTROL, "a")  # a modifier stays down to the end of a send_keys call
    search.send_keys(Keys.DELETE)
    search.send_keys(Keys.ENTER)
    duo.wait_for_text_to_equal("#runs-count", "3 runs", timeout=20)
    assert duo.driver.execute_script("return window.__warnings") == []  # AG Grid warnings #25, #129 gone
    assert duo.get_logs() == []


def test_runs_grid_fetches_its_first_block_once(start_app, db_url):
    run_experiment({**MOONS, "snapshots": False}, db_url)
    duo = start_app()
    duo.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
    duo.wait_for_page(url=duo.server_url + "/runs")
    duo.wait_for_element(".ag-row[row-id='1']", timeout=15)
    # the live poll has run twice since (it replaced nothing: the store did not change)
    wait_until(duo, lambda: duo.driver.execute_script(
        "return performance.getEntriesByType('resource').filter(e => e.name.includes('update-component'))"
        ".length") >= 4 and duo.find_element("#runs-grid").is_displayed(), 15, "no polls")
    assert duo.driver.execute_script("return window.__blocks") == [0]
    assert duo.driver.execute_script("return window.__warnings") == []


def _fake_runs(db_url, n: int, epochs: int = 20) -> None:
    """n finished MLP runs with `epochs` epochs of curves, written through the storage verbs (no training)."""
    import math

    from storage import writes
    from storage.db import open_db
    from storage.epoch_log import log_epoch

    engine = open_db(db_url)
    for i in range(n):
        params = {"model": "mlp", "dataset": "digits", "optimizer": ("sgd", "adam")[i % 2], "lr": 0.01, "seed": i}
        rid = writes.create_run(engine, params, params, model="mlp", dataset="digits", epochs_planned=epochs, seed=i)
        writes.start_run(engine, rid, pid=0, host="test")
        for step in range(1, epochs + 1):
            loss = 2 * math.exp(-step / (5 + i))
            log_epoch(engine, rid, step, {"train_loss": loss, "val_loss": loss * 1.1, "train_accuracy": 1 - loss / 2,
                                          "val_accuracy": 1 - loss / 1.9})
        writes.finish_run(engine, rid, "completed")


def test_compare_of_many_runs_names_the_first_twenty_and_fills_its_controls(start_app, db_url):
    _fake_runs(db_url, 30)
    duo = start_app()
    runs = ",".join(str(i) for i in range(1, 31))
    duo.wait_for_page(url=duo.server_url + f"/compare?runs={runs}")
    duo.wait_for_element("#compare-curves .legendtext", timeout=20)
    curves = _wait_traces(duo, "#compare-curves", lambda ts: len(ts) == 60, "not every curve drawn")
    assert len(duo.find_elements("#compare-curves .legendtext")) == 20
    assert "the first 20 of 30 runs" in duo.find_element("#compare-curves").text
    assert len({t["line"] for t in curves}) >= 20  # a colour per run (the cycle has 28)
    duo.wait_for_contains_text("#compare-scatter-param", "optimizer", timeout=20)
    duo.wait_for_contains_text("#compare-runs", "30", timeout=20)  # "30 selected"
    _wait_traces(duo, "#compare-parcoords", lambda ts: any(t["mode"] == "text" for t in ts), "no parcoords")
    duo.wait_for_page(url=duo.server_url + f"/compare?runs={runs}&group=optimizer")
    duo.wait_for_element("#compare-curves .legendtext", timeout=20)
    legend = sorted(e.text for e in duo.find_elements("#compare-curves .legendtext"))
    assert legend == ["optimizer=adam (n=15)", "optimizer=sgd (n=15)"]
    assert duo.get_logs() == []


def test_runs_grid_rows_in_flight_show_a_loading_state(start_app, db_url):
    _fake_runs(db_url, 250, epochs=1)
    duo = start_app()
    duo.wait_for_page(url=duo.server_url + "/runs")
    duo.wait_for_element(".ag-row[row-id='250']", timeout=20)
    # a slow network keeps the next block in flight long enough to look at it
    duo.driver.execute_cdp_cmd("Network.enable", {})
    duo.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, "latency": 3000,
                                                                     "downloadThroughput": -1, "uploadThroughput": -1})
    duo.driver.execute_script("dash_ag_grid.getApi('runs-grid').ensureIndexVisible(220, 'top')")
    duo.wait_for_element(".nnlab-row-loading", timeout=10)
    assert "loading…" in duo.find_element(".ag-pinned-left-cols-container .nnlab-row-loading").text
    duo.driver.execute_cdp_cmd("Network.emulateNetworkConditions", {"offline": False, "latency": 0,
                                                                     "downloadThroughput": -1, "uploadThroughput": -1})
    duo.wait_for_element(".ag-row[row-id='30']", timeout=20)  # run 30 is row 220 (newest first)
    wait_until(duo, lambda: not duo.find_elements(".nnlab-row-loading"), 20, "rows stayed in loading state")
    assert duo.get_logs() == []


def _query(duo, sql: str) -> None:
    box = duo.find_element("#query-text")
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.DELETE)
    box.send_keys(sql)
    wait_until(duo, lambda: box.get_attribute("value") == sql, 5, "the query box did not take the text")
    duo.find_element("#query-run").click()


def test_a_sql_typo_is_a_syntax_error_and_one_row_is_one_row(start_app, db_url):
    run_experiment({**MOONS, "snapshots": False}, db_url)
    duo = start_app()
    duo.wait_for_page(url=duo.server_url + "/query")
    _query(duo, "SELEC * FROM runs")
    duo.wait_for_contains_text("#query-message", "syntax error", timeout=20)
    assert "Refused" not in duo.find_element("#query-message").text
    _query(duo, "SELECT count(*) AS n FROM runs")
    duo.wait_for_contains_text("#query-message", "1 row in", timeout=20)
    assert duo.get_logs() == []


def test_the_perceptrons_gradient_panels_read_right_and_seq2seq_defaults_to_attention(start_app, db_url):
    run_experiment({"model": "perceptron", "dataset": "and", "optimizer": "sgd", "lr": 0.1, "batch_size": 1,
                    "epochs": 10}, db_url)
    duo = start_app()
    duo.wait_for_page(url=duo.server_url + "/?family=attention")
    select(duo, "model", "seq2seq")
    attention = duo.find_element('[id=\'{"name":"attention","type":"launch-field"}\']')
    assert attention.get_attribute("value") == "dot"

    duo.wait_for_page(url=duo.server_url + "/run/1")
    duo.wait_for_element("#run-tabs", timeout=20)
    next(t for t in duo.find_elements("#run-tabs .nav-link") if t.text == "Inside").click()
    gradients = "[id='{\"type\":\"inside-view\",\"view\":\"gradients\"}']"
    duo.wait_for_contains_text(gradients, "no loss gradient", timeout=20)
    assert "no earlier recorded epoch" not in duo.find_element(gradients).text
    assert duo.get_logs() == []
