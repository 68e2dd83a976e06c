"""Verdict sentences read like the issue's example and say what is missing."""

from __future__ import annotations

import json

from lessons.metrics import parse_metric
from lessons.report import comparison_json, verdict_sentence
from lessons.runner import Outcome, Plan
from lessons.stats import compare


def _plan(metric: str, expected: str | None = "lower") -> Plan:
    return Plan("lesson-x", [], [], ("SGD", "Adam"), parse_metric(metric), expected)


def test_epochs_to_reads_as_sooner_with_the_interval_and_the_seeds():
    m = "epochs_to:val_accuracy>=0.9"
    c = compare({s: 12.0 + s % 2 for s in range(5)}, {s: 6.0 for s in range(5)}, metric=m, expected="lower",
                higher_is_better=False)
    text = verdict_sentence(_plan(m), Outcome(c, {"SGD": 1, "Adam": 0}, {}))
    assert text.startswith("Adam reaches val_accuracy >= 0.9 6.4 epochs sooner than SGD (95% CI")
    assert "5 of 5 seeds" in text and "supported" in text and "1 run of SGD" in text


def test_an_unpaired_inconclusive_comparison_says_so_and_json_is_strict():
    m = "val_accuracy:best"
    c = compare({0: 0.5, 1: 0.9}, {5: 0.6, 6: float("nan")}, metric=m)
    text = verdict_sentence(_plan(m, None), Outcome(c, {"SGD": 0, "Adam": 0}, {3: "failed"}))
    assert "unpaired, 2 and 1 runs" in text and "inconclusive" in text and "runs 3" in text
    json.dumps(comparison_json(Outcome(c, {}, {})), allow_nan=False)


def test_an_inconclusive_paired_comparison_says_how_many_more_seeds():
    m = "val_loss:best"
    c = compare({s: 0.5 + 0.01 * s for s in range(4)}, {s: 0.5 + 0.01 * ((s * 3) % 4) for s in range(4)}, metric=m,
                higher_is_better=False)
    text = verdict_sentence(_plan(m, None), Outcome(c, {}, {}))
    assert c.verdict == "inconclusive" and ("more seed" in text or c.effect == 0)
