"""When to take snapshots, within a per-run byte budget.

Small views (a few numbers per layer) are taken every epoch; big views (maps, histograms, confusion
matrices) at log-spaced epochs 0, 1, 2, 4, 8, ... and the last. Epoch 0 is the untrained model. The
plan is made once, from the measured size of each set at epoch 0: if the budget cannot hold every
epoch, small views are thinned to evenly spaced epochs and then big views to fewer log-spaced ones
(always keeping the first and the last). At run time `ByteBudget` refuses any write that would pass
the limit, so the budget holds even when later snapshots come out larger than measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MB = 1_000_000
# Plan with this fraction of the budget, leaving room for snapshots that grow a little (JSON numbers).
PLAN_FRACTION = 0.9


def log_epochs(epochs: int) -> list[int]:
    """0, 1, 2, 4, 8, ... below `epochs`, then `epochs` itself."""
    out, e = [0], 1
    while e < epochs:
        out.append(e)
        e *= 2
    if epochs > 0:
        out.append(epochs)
    return sorted(set(out))


@dataclass(frozen=True)
class SnapshotPlan:
    """The epochs that get small views and the epochs that get big ones (those get small ones too)."""

    small: frozenset[int]
    big: frozenset[int]
    notes: tuple[str, ...] = field(default=())

    def wants(self, epoch: int) -> tuple[bool, bool]:
        """(small?, big?) for `epoch`."""
        return epoch in self.small or epoch in self.big, epoch in self.big

    def planned_bytes(self, small_bytes: int, big_bytes: int) -> int:
        return len(self.small | self.big) * small_bytes + len(self.big) * big_bytes


def _thin_logspaced(epochs: list[int], keep: int) -> list[int]:
    """`keep` (>= 2) of the sorted log-spaced `epochs`: the first, the last and evenly spread ones."""
    if keep >= len(epochs):
        return epochs
    idx = {round(i * (len(epochs) - 1) / (keep - 1)) for i in range(keep)}
    return [epochs[i] for i in sorted(idx)]


def _every_kth(epochs: int, n: int) -> list[int]:
    """At most `n` epochs of 1..epochs: every k-th one (k as small as fits) and the last."""
    if n <= 0:
        return []
    k = math.ceil((epochs + 1) / n)
    return sorted(set(range(k, epochs + 1, k)) | {epochs})


def plan_schedule(epochs: int, small_bytes: int, big_bytes: int, budget_bytes: int, *,
                  fixed_bytes: int = 0) -> SnapshotPlan:
    """Fit small views every epoch and big views at log-spaced epochs into `budget_bytes`.

    `fixed_bytes` is already spent (the probe record). One extra epoch of both sets is held back for a
    run that stops early, whose last epoch is then recorded in full.
    """
    per_big = small_bytes + big_bytes
    room = int(budget_bytes * PLAN_FRACTION) - fixed_bytes
    notes = []
    if 2 * per_big > room:  # not even one epoch of big views beside the early-stop reserve
        big, avail = [], room - small_bytes
        notes.append("big views are larger than the snapshot budget: none recorded")
    else:
        big, avail = log_epochs(epochs), room - per_big
    if big and per_big * len(big) > avail:
        keep = avail // per_big  # >= 1: room holds at least two epochs of both sets
        big = _thin_logspaced(big, int(keep)) if keep >= 2 else [epochs]
        notes.append(f"big views thinned to {len(big)} epochs to fit the budget")
    remaining = avail - per_big * len(big)
    others = [e for e in range(epochs + 1) if e not in set(big)]
    if small_bytes <= 0 or remaining >= small_bytes * len(others):
        small = others
    else:
        small = [e for e in _every_kth(epochs, int(max(remaining // small_bytes, 0))) if e not in set(big)]
        notes.append(f"small views on {len(small) + len(big)} of {epochs + 1} epochs to fit the budget")
    return SnapshotPlan(frozenset(small) | frozenset(big), frozenset(big), tuple(notes))


class ByteBudget:
    """Bytes a run may still store; `take(n)` is False (and spends nothing) when `n` would pass the limit."""

    def __init__(self, limit_bytes: int) -> None:
        self.limit = int(limit_bytes)
        self.spent = 0

    def fits(self, n: int) -> bool:
        return self.spent + n <= self.limit

    def take(self, n: int) -> bool:
        if not self.fits(n):
            return False
        self.spent += n
        return True

    @property
    def left(self) -> int:
        return self.limit - self.spent


# Snapshots may take this fraction of the run's time so far, and at least TIME_FLOOR_S seconds per run:
# a short run (XOR, moons, a few digits epochs) then records every epoch, so its views animate and
# every epoch can be scrubbed; from 5 s of epochs on, the fraction is what binds.
TIME_FRACTION = 0.05
TIME_FLOOR_S = 0.25


class TimeBudget:
    """Keeps snapshot time under `fraction` of the run's time, with `floor_s` seconds always allowed.

    Planned epochs are skipped while the time spent on snapshots is above the allowance, so a run
    whose epochs are fast compared with its probe pass gets views every few epochs instead of every
    epoch. (The recorder still records the last epoch in full.)
    """

    def __init__(self, fraction: float = TIME_FRACTION, floor_s: float = TIME_FLOOR_S) -> None:
        self.fraction, self.floor_s = fraction, floor_s
        self.train_s = 0.0
        self.spent_s = 0.0
        self.skipped = 0

    def add_training(self, seconds: float) -> None:
        """Count `seconds` of the run's own time (an epoch: training, evaluation, logging)."""
        self.train_s += max(seconds, 0.0)

    def allows(self, expected_s: float = 0.0, reserve_s: float = 0.0) -> bool:
        """Whether a planned snapshot epoch expected to take `expected_s` fits in the allowance now,
        keeping `reserve_s` free (the recorder reserves the cost of the last epoch's full views,
        which are always recorded, so the run as a whole stays within the fraction)."""
        ok = self.spent_s + expected_s + reserve_s <= max(self.fraction * self.train_s, self.floor_s)
        self.skipped += not ok
        return ok

    def spend(self, seconds: float) -> None:
        self.spent_s += seconds
