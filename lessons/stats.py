"""The verdict's statistics: paired differences across seeds, a percentile bootstrap, and the rules.

Pure: plain numbers in, a `Comparison` out. Runs that share a seed are paired and the per-seed
differences (changed arm minus baseline) are resampled; without any shared seed the two arms are
resampled independently (an unpaired comparison, which says so). 10,000 resamples from a fixed seed,
so the same runs always give the same interval.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

RESAMPLES = 10_000
RESAMPLING_SEED = 20260215  # fixed: the same values always give the same interval
CONFIDENCE = 0.95
MIN_PAIRS = 3

LESSON_VERDICTS = ("supported", "contradicted", "inconclusive")
ABLATION_VERDICTS = ("better", "worse", "inconclusive")


@dataclass(frozen=True)
class Comparison:
    """Arm b against arm a on one metric: the effect (b - a), its interval and the verdict."""

    metric: str
    effect: float | None
    ci_low: float | None
    ci_high: float | None
    seeds: int                      # pairs (paired) or the smaller arm's size (unpaired)
    seeds_agreeing: int             # pairs pointing the claimed way (lesson) or the effect's way (ablation)
    seeds_against: int              # pairs pointing the other way; the rest are ties
    paired: bool
    verdict: str
    reason: str
    more_seeds: int | None = None   # extra seeds needed at the observed spread (inconclusive only)
    share_a: float | None = None    # share metrics: the proportion of each arm that succeeded
    share_b: float | None = None
    a: dict = field(default_factory=dict)      # {seed: value} of the baseline arm
    b: dict = field(default_factory=dict)      # {seed: value} of the changed arm
    diffs: dict = field(default_factory=dict)  # {seed: b - a} for the paired seeds

    def to_dict(self) -> dict:
        """Plain JSON-ready values: NaN and infinities become None."""
        return _json_safe(asdict(self))


def _json_safe(value):
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def bootstrap_mean_ci(values: Sequence[float], *, resamples: int = RESAMPLES, seed: int = RESAMPLING_SEED,
                      confidence: float = CONFIDENCE) -> tuple[float, float]:
    """95% percentile-bootstrap interval of the mean of `values` (resampled with replacement)."""
    x = np.asarray(values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, len(x), size=(resamples, len(x)))].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.percentile(means, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def bootstrap_diff_ci(a: Sequence[float], b: Sequence[float], *, resamples: int = RESAMPLES,
                      seed: int = RESAMPLING_SEED, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Unpaired: percentile interval of mean(b) - mean(a), each arm resampled on its own."""
    xa, xb = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    rng = np.random.default_rng(seed)
    ma = xa[rng.integers(0, len(xa), size=(resamples, len(xa)))].mean(axis=1)
    mb = xb[rng.integers(0, len(xb), size=(resamples, len(xb)))].mean(axis=1)
    alpha = (1 - confidence) / 2
    lo, hi = np.percentile(mb - ma, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def seeds_needed(diffs: Sequence[float], effect: float) -> int | None:
    """Pairs for a 95% interval (about mean +- 1.96 sd / sqrt(n)) to exclude zero at this spread and
    effect; None when there is no effect or no spread to extrapolate from."""
    x = np.asarray(diffs, dtype=np.float64)
    if len(x) < 2 or effect == 0 or not math.isfinite(effect):
        return None
    sd = float(x.std(ddof=1))
    if sd == 0:
        return MIN_PAIRS
    return max(MIN_PAIRS, math.ceil((1.96 * sd / abs(effect)) ** 2) + 1)


def decide(effect: float | None, lo: float | None, hi: float | None, n: int, *, expected: str | None,
           higher_is_better: bool, resolution: float = 0.0) -> tuple[str, str]:
    """(verdict, reason). expected: 'higher' or 'lower' for a lesson's claim on b - a; None for an ablation."""
    if n < MIN_PAIRS:
        return "inconclusive", f"only {n} pair{'s' if n != 1 else ''}: at least {MIN_PAIRS} are needed"
    if effect is None or lo is None or hi is None:
        return "inconclusive", "the metric is undefined for some runs"
    if lo <= 0 <= hi:
        return "inconclusive", "the 95% interval includes zero: the difference is within seed-to-seed noise"
    if resolution > 0 and max(abs(lo), abs(hi)) < resolution:
        return "inconclusive", f"the whole interval is smaller than the metric's resolution ({resolution:.4g})"
    up = lo > 0
    if expected is not None:
        ok = up == (expected == "higher")
        return ("supported", "the interval excludes zero on the claimed side") if ok else \
            ("contradicted", "the interval excludes zero on the other side from the claim")
    better = up == higher_is_better
    return ("better" if better else "worse"), "the interval excludes zero"


def compare(a: Mapping[int, float | None], b: Mapping[int, float | None], *, metric: str,
            expected: str | None = None, higher_is_better: bool = True, resolution: float = 0.0,
            share: bool = False) -> Comparison:
    """Compare arm b with arm a ({seed: value}); paired on the seeds both have a finite value.

    A value of None (or NaN) means the metric is undefined for that run; it is left out. With no
    shared seed at all the arms are compared unpaired and the reason says so.
    """
    fa = {s: float(v) for s, v in a.items() if v is not None and math.isfinite(v)}
    fb = {s: float(v) for s, v in b.items() if v is not None and math.isfinite(v)}
    shared = sorted(set(fa) & set(fb))
    shares = ((_mean(list(fa.values())), _mean(list(fb.values()))) if share else (None, None))
    paired = bool(shared)
    if paired:
        diffs = {s: fb[s] - fa[s] for s in shared}
        d = list(diffs.values())
        n = len(d)
        effect = float(np.mean(d))
        lo, hi = bootstrap_mean_ci(d) if n >= 2 else (effect, effect)
    else:
        diffs, d = {}, []
        n = min(len(fa), len(fb))
        effect = (_mean(list(fb.values())) - _mean(list(fa.values()))) if n else None
        lo, hi = bootstrap_diff_ci(list(fa.values()), list(fb.values())) if n >= 2 else (effect, effect)
    verdict, reason = decide(effect, lo, hi, n, expected=expected, higher_is_better=higher_is_better,
                             resolution=resolution)
    if not paired and n:
        reason = f"unpaired comparison (no seed shared by both arms); {reason}"
    agree_up = (expected == "higher") if expected is not None else (effect is None or effect >= 0)
    if paired:
        agreeing = sum(1 for x in d if (x > 0 if agree_up else x < 0))
        against = sum(1 for x in d if (x < 0 if agree_up else x > 0))
    else:
        agreeing = against = 0
    more = seeds_needed(d, effect) if verdict == "inconclusive" and paired and effect is not None else None
    if more is not None:
        more = max(0, more - n)
    return Comparison(metric=metric, effect=effect, ci_low=lo, ci_high=hi, seeds=n, seeds_agreeing=agreeing,
                      seeds_against=against, paired=paired, verdict=verdict, reason=reason, more_seeds=more,
                      share_a=shares[0], share_b=shares[1], a=dict(sorted(fa.items())), b=dict(sorted(fb.items())),
                      diffs=diffs)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None
