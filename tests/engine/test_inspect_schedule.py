"""Snapshot schedule: log-spaced big views, small views every epoch, all within the byte budget."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.inspect.schedule import (
    PLAN_FRACTION,
    ByteBudget,
    TimeBudget,
    log_epochs,
    plan_schedule,
)


def test_log_epochs_are_powers_of_two_plus_the_untrained_and_last_epochs():
    assert log_epochs(20) == [0, 1, 2, 4, 8, 16, 20]
    assert log_epochs(16) == [0, 1, 2, 4, 8, 16]
    assert log_epochs(1) == [0, 1]


def test_a_roomy_budget_records_small_views_every_epoch_and_big_views_log_spaced():
    plan = plan_schedule(50, small_bytes=1_000, big_bytes=20_000, budget_bytes=4_000_000)
    assert plan.small == frozenset(range(51))
    assert plan.big == frozenset(log_epochs(50))
    assert plan.notes == ()


def test_a_tight_budget_thins_small_views_evenly_and_keeps_the_last_epoch():
    plan = plan_schedule(1000, small_bytes=1_000, big_bytes=10_000, budget_bytes=300_000)
    assert 0 in plan.big and 1000 in plan.big
    assert len(plan.small) < 1001 and 1000 in plan.small
    extra = sorted(plan.small - plan.big)
    stride = math.gcd(*extra)
    assert stride > 1 and all(b - a <= 2 * stride for a, b in itertools.pairwise(extra))  # every k-th epoch
    assert plan.notes


def test_big_views_larger_than_the_budget_are_dropped_but_small_ones_stay():
    plan = plan_schedule(10, small_bytes=100, big_bytes=10_000_000, budget_bytes=100_000)
    assert plan.big == frozenset()
    assert plan.small == frozenset(range(11))


@settings(max_examples=200, deadline=None)
@given(epochs=st.integers(1, 5000), small=st.integers(1, 50_000), big=st.integers(0, 500_000),
       budget=st.integers(1_000, 10_000_000), fixed=st.integers(0, 50_000))
def test_the_plan_never_exceeds_the_budget(epochs, small, big, budget, fixed):
    plan = plan_schedule(epochs, small, big, budget, fixed_bytes=fixed)
    reserve = small + big if plan.big else small  # held back for a run that stops early
    assert fixed + plan.planned_bytes(small, big) + reserve <= budget * PLAN_FRACTION or not (plan.small or plan.big)
    assert plan.big <= plan.small | plan.big
    assert all(0 <= e <= epochs for e in plan.small | plan.big)


def test_byte_budget_refuses_what_would_pass_the_limit():
    b = ByteBudget(100)
    assert b.take(60) and not b.take(41) and b.take(40)
    assert b.spent == 100 and b.left == 0 and not b.fits(1)


def test_time_budget_allows_a_fraction_of_training_time_with_a_floor():
    tb = TimeBudget(fraction=0.05, floor_s=1.0)  # explicit, not the defaults
    tb.spend(0.9)
    assert tb.allows()                      # under the floor
    tb.spend(0.2)
    assert not tb.allows()                  # 1.1 s > max(0, 1.0)
    tb.add_training(30.0)
    assert tb.allows()                      # 1.1 s <= 5% of 30 s
    assert tb.skipped == 1
    assert tb.allows(0.3)                   # 1.4 s <= 1.5 s
    assert not tb.allows(0.3, reserve_s=0.2)  # the reserve for the last epoch's views counts too
    assert tb.skipped == 2

