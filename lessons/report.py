"""Verdicts as a sentence for people and as strict JSON (no NaN) for programs."""

from __future__ import annotations

import math

from .runner import Outcome, Plan


def _num(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.3g}" if abs(x) >= 0.001 or x == 0 else f"{x:.2e}"


def verdict_sentence(plan: Plan, outcome: Outcome, metric: str | None = None) -> str:
    """'dot attention minus fixed-size encoding, best validation accuracy: +0.1 (95% CI 0.08 to 0.12;
    5 of 5 seeds point the claimed way). Verdict: supported.' plus notes."""
    from .metrics import parse_metric

    c = outcome.comparison
    base, changed = plan.labels
    way = "the claimed way" if c.verdict in ("supported", "contradicted") or (
        c.verdict == "inconclusive" and plan.expected and c.metric == plan.metric.text) else "the same way"
    described = parse_metric(metric or c.metric).describe()
    head = (f"{changed} minus {base}, {described}: {_num(c.effect) if c.effect is None else f'{c.effect:+.3g}'}"
            f" (95% CI {_num(c.ci_low)} to {_num(c.ci_high)}; {c.seeds_agreeing} of {c.seeds} "
            f"{'pairs' if c.paired else 'runs'} point {way}). Verdict: {c.verdict} ({c.reason}).")
    notes = []
    if c.share_a is not None and c.share_b is not None:
        notes.append(f"Share: {changed} {c.share_b:.0%} of {len(c.b)} seeds, {base} {c.share_a:.0%} of {len(c.a)}.")
    missed = {k: v for k, v in outcome.not_reached.items() if v}
    if missed:
        notes.append("Never reached the target (counted as planned epochs + 1): "
                     + ", ".join(f"{v} run{'s' if v > 1 else ''} of {k}" for k, v in missed.items()) + ".")
    failed = [rid for rid, s in outcome.statuses.items() if s != "completed"]
    if failed:
        notes.append(f"Left out (did not complete): runs {', '.join(map(str, failed))}.")
    if c.verdict == "inconclusive" and c.more_seeds is not None:
        notes.append(f"At the observed spread about {c.more_seeds} more seed{'s' if c.more_seeds != 1 else ''} "
                     f"would be needed for the interval to exclude zero.")
    return " ".join([head, *notes])


def comparison_json(outcome: Outcome) -> dict:
    """The comparison fields of the CLI's JSON: metric, effect, ci_low, ci_high, seeds, seeds_agreeing, verdict
    (and detail: paired, reason, more_seeds, shares, per-seed values). Undefined values are null."""
    d = outcome.comparison.to_dict()
    d["not_reached"] = outcome.not_reached
    return d
