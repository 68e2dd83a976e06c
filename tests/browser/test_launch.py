"""The Launch page as a learner uses it: live progress, a whole sweep in view, Cancel only where it means
something, a form that survives a reload, and sweep names that never merge silently."""

from __future__ import annotations

import re

import pytest

from selenium.common.exceptions import StaleElementReferenceException

from .conftest import click, fill, select, store, wait_until

pytestmark = pytest.mark.browser


def test_a_200_epoch_run_shows_epochs_between_0_and_200_while_it_trains(start_app, db_url):
    duo = start_app()
    select(duo, "dataset", "digits")
    fill(duo, "hidden", "32")
    fill(duo, "epochs", 200)
    duo.find_element("#launch-start").click()
    seen: set[int] = set()

    def progress() -> bool:
        for text in (e.text for e in duo.find_elements("#launch-active-runs .run-progress-text")):
            m = re.match(r"epoch (\d+) of 200", text)
            if m:
                seen.add(int(m.group(1)))
        return any(0 < k < 200 for k in seen)

    wait_until(duo, progress, 60, "no epoch strictly between 0 and 200 was shown")
    reads, db = store(db_url)
    assert reads.get_run(db, 1).status == "running" or max(seen) < 200
    duo.wait_for_contains_text("#launch-finished-runs", "completed", timeout=120)
    assert duo.get_logs() == []


def test_a_sweep_of_nine_shows_every_run_and_its_size_before_start(start_app, db_url):
    duo = start_app()
    select(duo, "dataset", "xor")
    fill(duo, "hidden", "4")
    fill(duo, "epochs", 3)
    duo.find_element("#launch-sweep-on").click()
    duo.wait_for_element("#launch-sweep-text")
    duo.find_element("#launch-sweep-text").send_keys("optimizer = sgd, momentum, adam\nseed = 0..2")
    duo.find_element("#launch-experiment").send_keys("nine\t")
    duo.wait_for_contains_text("#launch-message", "9 runs × 3 epochs", timeout=10)  # before Start
    duo.find_element("#launch-start").click()
    duo.wait_for_contains_text("#launch-message", "Queued sweep 'nine': 9 runs", timeout=10)
    duo.wait_for_contains_text(".sweep-summary summary", "9 done", timeout=120)
    click(duo, ".sweep-summary summary")

    def listed() -> list[str] | None:  # the panel is redrawn every second: read it in one go
        try:
            if duo.find_element(".sweep-summary").get_attribute("open") is None:
                return None
            return [e.text for e in duo.find_elements(".sweep-summary li")]
        except StaleElementReferenceException:
            return None

    wait_until(duo, lambda: (items := listed()) and len(items) == 9 and all("completed" in t for t in items), 10,
               "the sweep's list did not open with its nine runs")
    assert len(duo.find_elements("#launch-finished-runs .finished-run")) == 9
    assert not duo.find_elements("[id*='cancel-run']")  # nothing left to cancel

    # the same name again: refused inline unless the learner asks to add to it
    duo.find_element("#launch-start").click()
    duo.wait_for_contains_text("#launch-message", "Experiment 'nine' already exists", timeout=10)
    reads, db = store(db_url)
    assert reads.count_runs(db) == 9
    duo.find_element("#launch-append").click()
    duo.wait_for_contains_text("#launch-message", "added to experiment 'nine'", timeout=10)
    assert duo.get_logs() == []


def test_the_form_survives_a_reload(start_app, db_url):
    duo = start_app()
    duo.find_element("[id='launch-family'] input[value='cnn']").click()
    wait_until(duo, lambda: duo.find_element('[id=\'{"name":"channels","type":"launch-wrap"}\']').is_displayed())
    fill(duo, "lr", 0.0042)
    fill(duo, "epochs", 7)
    duo.wait_for_contains_text("#launch-message", "", timeout=5)
    duo.driver.refresh()
    duo.wait_for_text_to_equal("h4", "Launch a run")

    def value(name):
        return duo.find_element(f'[id=\'{{"name":"{name}","type":"launch-field"}}\']').get_attribute("value")

    wait_until(duo, lambda: value("lr") == "0.0042" and value("epochs") == "7", 10, "the form was not restored")
    assert duo.find_element("[id='launch-family'] input[value='cnn']").is_selected()
    assert duo.find_element('[id=\'{"name":"channels","type":"launch-wrap"}\']').is_displayed()
    assert duo.get_logs() == []


def test_a_value_typed_and_start_clicked_at_once_start_the_run_with_that_value(start_app, db_url):
    """The field's debounced change and the click reach the server in one request: Start still starts."""
    duo = start_app()
    select(duo, "dataset", "digits")
    fill(duo, "epochs", 2)
    duo.driver.execute_script("""
        const input = document.getElementById('{"name":"lr","type":"launch-field"}');
        input.focus();
        Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set.call(input, '0.02');
        input.dispatchEvent(new Event('input', {bubbles: true}));
        input.blur();                                   // commits the debounced value...
        document.getElementById('launch-start').click();  // ...and Start, in the same task
    """)
    duo.wait_for_contains_text("#launch-message", "Started run #1", timeout=20)
    reads, db = store(db_url)
    assert reads.get_run(db, 1).spec["lr"] == 0.02
    duo.wait_for_contains_text("#launch-finished-runs", "completed", timeout=60)
    assert duo.get_logs() == []
