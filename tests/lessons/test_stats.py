"""The verdict's statistics: paired bootstrap against scipy, constructed data, the verdict rules."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lessons import stats


def test_the_interval_matches_scipy_percentile_bootstrap():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(3)
    d = rng.normal(0.5, 1.0, size=8)
    lo, hi = stats.bootstrap_mean_ci(d)
    ref = scipy_stats.bootstrap((d,), np.mean, n_resamples=10_000, method="percentile", confidence_level=0.95,
                                random_state=np.random.default_rng(0)).confidence_interval
    width = ref.high - ref.low
    assert abs(lo - ref.low) < 0.05 * width and abs(hi - ref.high) < 0.05 * width


def test_the_same_values_always_give_the_same_interval():
    d = [0.1, 0.3, -0.2, 0.5, 0.05]
    assert stats.bootstrap_mean_ci(d) == stats.bootstrap_mean_ci(list(d))


def test_identical_arms_give_an_interval_around_zero_and_inconclusive():
    a = {s: v for s, v in enumerate([0.91, 0.93, 0.9, 0.95, 0.92])}
    c = stats.compare(a, dict(a), metric="val_accuracy:best", expected="higher")
    assert c.effect == 0 and c.ci_low <= 0 <= c.ci_high and c.verdict == "inconclusive"
    assert c.seeds == 5 and c.seeds_agreeing == 0 and c.seeds_against == 0


def test_noisy_arms_around_the_same_mean_are_inconclusive_and_say_how_many_seeds_more():
    rng = np.random.default_rng(1)
    a = {s: float(v) for s, v in enumerate(rng.normal(0.9, 0.02, 6))}
    b = {s: a[s] + float(rng.normal(0.002, 0.03)) for s in a}
    c = stats.compare(a, b, metric="val_accuracy:best")
    assert c.verdict == "inconclusive" and "includes zero" in c.reason
    assert c.more_seeds is not None and c.more_seeds > 0


def test_a_clear_effect_is_supported_on_the_claimed_side_and_contradicted_on_the_other():
    a = {s: 10.0 + s * 0.1 for s in range(5)}
    b = {s: a[s] - 3.0 - 0.2 * (s % 2) for s in range(5)}
    c = stats.compare(a, b, metric="epochs_to:val_accuracy>=0.9", expected="lower", higher_is_better=False)
    assert c.verdict == "supported" and c.ci_high < 0 and c.seeds_agreeing == 5
    assert stats.compare(a, b, metric="m", expected="higher").verdict == "contradicted"


def test_ablations_say_better_or_worse_by_the_metric_sense():
    a = {s: 0.8 for s in range(4)}
    b = {s: 0.9 + 0.01 * s for s in range(4)}
    assert stats.compare(a, b, metric="val_accuracy:best", higher_is_better=True).verdict == "better"
    assert stats.compare(a, b, metric="val_loss:best", higher_is_better=False).verdict == "worse"


def test_fewer_than_three_pairs_are_inconclusive():
    c = stats.compare({0: 0.1, 1: 0.2}, {0: 0.9, 1: 0.95}, metric="m", expected="higher")
    assert c.verdict == "inconclusive" and "at least 3" in c.reason


def test_an_interval_within_the_metric_resolution_is_inconclusive():
    a = {s: 0.900 for s in range(5)}
    b = {s: 0.901 + 0.0002 * s for s in range(5)}
    c = stats.compare(a, b, metric="val_accuracy:best", expected="higher", resolution=1 / 287)
    assert c.ci_low > 0 and c.verdict == "inconclusive" and "resolution" in c.reason


def test_runs_without_a_shared_seed_fall_back_to_an_unpaired_comparison_and_say_so():
    c = stats.compare({0: 0.5, 1: 0.52, 2: 0.49}, {10: 0.9, 11: 0.92, 12: 0.88}, metric="m", expected="higher")
    assert not c.paired and c.verdict == "supported" and "unpaired" in c.reason
    lo, hi = stats.bootstrap_diff_ci([0.5, 0.52, 0.49], [0.9, 0.92, 0.88])
    assert (c.ci_low, c.ci_high) == (lo, hi)


def test_shares_are_compared_as_proportions():
    a = {s: float(s in (3, 4)) for s in range(5)}  # 2 of 5 solved
    b = {s: 1.0 for s in range(5)}
    c = stats.compare(a, b, metric="reached:val_accuracy>=1", expected="higher", share=True)
    assert (c.share_a, c.share_b) == (0.4, 1.0) and c.effect == pytest.approx(0.6)
    assert c.seeds_agreeing == 3 and c.verdict == "supported"


def test_undefined_values_are_left_out_and_the_json_is_strict():
    c = stats.compare({0: float("nan"), 1: None, 2: 0.5}, {0: 0.4, 1: 0.6, 2: 0.7}, metric="m")
    assert c.seeds == 1 and c.verdict == "inconclusive"
    json.dumps(c.to_dict(), allow_nan=False)
    empty = stats.compare({}, {}, metric="m")
    assert empty.effect is None and json.loads(json.dumps(empty.to_dict(), allow_nan=False))["ci_low"] is None
