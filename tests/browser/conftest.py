"""Browser-test helpers: start the real app (DiskcacheManager jobs, SQLite file) under dash_duo."""

from __future__ import annotations

import pytest


@pytest.fixture
def start_app(dash_duo, db_url, tmp_path):
    """Start the dashboard on a temp database and cache folder; returns (dash_duo, db_url)."""

    def start(max_running: int = 2):
        from dashboard.app import create_app

        app = create_app(db_url, cache_dir=str(tmp_path / "cache"), max_running=max_running)
        dash_duo.start_server(app)
        return dash_duo

    return start


def store(db_url):
    """(storage.reads, the opened database): what the tests read the results through."""
    from storage import reads
    from storage.db import open_db

    return reads, open_db(db_url)


def fill(dash_duo, name: str, value) -> None:
    """Type `value` into the launch form's field `name` (a dbc.Input, debounced: blur to commit)."""
    el = dash_duo.find_element(f'[id=\'{{"name":"{name}","type":"launch-field"}}\']')
    el.clear()
    el.send_keys(str(value))
    el.send_keys("\t")


def start_digits_run(dash_duo, run_id: int, **fields) -> None:
    """On the launch page: pick digits, type `fields` into the form, press Start, see run #run_id start."""
    select(dash_duo, "dataset", "digits")
    for name, value in fields.items():
        fill(dash_duo, name, value)
    dash_duo.find_element("#launch-start").click()
    dash_duo.wait_for_contains_text("#launch-message", f"Started run #{run_id}", timeout=10)


def wait_until(dash_duo, condition, timeout: float = 10.0, message: str = "") -> None:
    """Wait until `condition()` is truthy (polling, no sleeps in the test)."""
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(dash_duo.driver, timeout).until(lambda _d: condition(), message)


def click(dash_duo, selector: str, timeout: float = 10.0) -> None:
    """Click `selector`, finding it again if a live update replaced it between the find and the click."""
    from selenium.common.exceptions import StaleElementReferenceException

    def attempt() -> bool:
        try:
            dash_duo.find_element(selector).click()
            return True
        except StaleElementReferenceException:
            return False

    wait_until(dash_duo, attempt, timeout, f"could not click {selector}")


def select(dash_duo, name: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(dash_duo.find_element(f'[id=\'{{"name":"{name}","type":"launch-field"}}\']')).select_by_value(value)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failed browser test, keep a screenshot of the page in $NNLAB_SCREENSHOT_DIR (or /tmp)."""
    outcome = yield
    report = outcome.get_result()
    duo = item.funcargs.get("dash_duo") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and duo is not None:
        import os

        folder = os.environ.get("NNLAB_SCREENSHOT_DIR", "/tmp")
        try:
            duo.driver.save_screenshot(os.path.join(folder, f"failed-{item.name}.png"))
        except Exception:  # the browser may already be gone
            pass
