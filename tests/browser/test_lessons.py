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


def test_run_all_queues_every_card_and_each_card_reaches_its_verdict(start_app, db_url):
    from lessons.definitions import LESSONS
    from storage import reads
    from storage.db import open_db

    dash_duo = start_app(max_running=2)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/lessons")
    dash_duo.wait_for_contains_text("#lesson-card-attention-scaling", "64-wide heads", timeout=10)
    for lesson in LESSONS:  # one seed each: the whole page in a few seconds of training
        seeds = dash_duo.find_element(_pid("lesson-seeds", lesson.name))
        seeds.clear()
        seeds.send_keys("1")
    button = dash_duo.find_element("#lessons-run-all")  # back up past the cards (Bootstrap scrolls smoothly)
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", button)
    button.click()
    for lesson in LESSONS:
        dash_duo.wait_for_contains_text(_pid("lesson-progress", lesson.name), "2 of 2 runs finished", timeout=180)
        dash_duo.wait_for_contains_text(_pid("lesson-verdict", lesson.name), "inconclusive", timeout=30)
    runs = reads.list_runs(open_db(db_url), limit=None)
    assert len(runs) == 2 * len(LESSONS) and {r.status for r in runs} == {"completed"}
    assert dash_duo.get_logs() == []


def test_ablate_on_the_run_page_shows_the_paired_verdict_and_the_events(start_app, db_url):
    from jobs.run import run_experiment

    run = run_experiment({"model": "perceptron", "dataset": "and", "epochs": 20, "snapshots": False}, db_url)
    dash_duo = start_app(max_running=2)
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/run/{run.run_id}")
    dash_duo.wait_for_contains_text("#run-events", "plateau", timeout=10)
    next(link for link in dash_duo.find_elements("#run-tabs .nav-link") if link.text == "Ablate").click()
    dash_duo.select_dcc_dropdown("#ablate-knob", value="dataset")
    value = dash_duo.find_element("#ablate-value")
    value.send_keys("xor")
    seeds = dash_duo.find_element("#ablate-seeds")
    seeds.clear()
    seeds.send_keys("3")
    click(dash_duo, "#ablate-start")
    dash_duo.wait_for_contains_text("#ablate-message", "1 reused", timeout=10)
    dash_duo.wait_for_contains_text("#ablate-verdict", "worse", timeout=120)
    assert "lower than original" in dash_duo.find_element("#ablate-verdict").text
    assert dash_duo.get_logs() == []
