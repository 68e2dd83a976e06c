"""A lesson from its card to its verdict in the browser: Run queues the runs, the job slots train them,
the card shows progress, then the verdict, the plot and a Compare link with the runs grouped."""

from __future__ import annotations

import pytest

from .conftest import click, wait_until

pytestmark = pytest.mark.browser


def _pid(kind: str, lesson: str) -> str:
    return f'[id=\'{{"lesson":"{lesson}","type":"{kind}"}}\']'


def test_a_lesson_runs_from_its_card_to_its_verdict(start_app, db_url):
    dash_duo = start_app(max_running=2)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/lessons")
    dash_duo.wait_for_contains_text("#lesson-card-perceptron-xor", "cannot learn XOR", timeout=10)
    seeds = dash_duo.find_element(_pid("lesson-seeds", "perceptron-xor"))
    seeds.clear()
    seeds.send_keys("3")
    click(dash_duo, _pid("lesson-run", "perceptron-xor"))
    dash_duo.wait_for_contains_text(_pid("lesson-progress", "perceptron-xor"), "of 6 runs finished", timeout=20)
    dash_duo.wait_for_contains_text(_pid("lesson-verdict", "perceptron-xor"), "supported", timeout=120)
    assert "lower than AND" in dash_duo.find_element(_pid("lesson-verdict", "perceptron-xor")).text
    wait_until(dash_duo, lambda: "group=dataset" in (dash_duo.find_element(
        _pid("lesson-compare", "perceptron-xor")).get_attribute("href") or ""), 10, "no Compare link")
    href = dash_duo.find_element(_pid("lesson-compare", "perceptron-xor")).get_attribute("href")
    assert "runs=" in href
    import os

    if os.environ.get("NNLAB_SCREENSHOT_DIR"):
        dash_duo.driver.save_screenshot(os.path.join(os.environ["NNLAB_SCREENSHOT_DIR"], "lessons.png"))
    assert dash_duo.get_logs() == []
