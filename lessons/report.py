"""Verdicts as a sentence for people and as strict JSON (no NaN) for programs."""

from __future__ import annotations

import math

from .runner import Outcome, Plan


def _num(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.3g}" if abs(x) >= 0.001 or x == 0 else f"{x:.2e}"


def effect_phrase(metric, effect: float, base: str, changed: str, share: tuple | None = None) -> str:
    """The effect in words: 'Adam (lr 0.001) reaches validation accuracy >= 0.9 14.8 epochs sooner than SGD'."""
    size = abs(effect)
    if metric.kind == "epochs_to":
        return (f"{changed} reaches {metric.key} {metric.op} {metric.target:g} {size:.3g} epochs "
                f"{'sooner' if effect < 0 else 'later'} than {base}")
    if metric.kind == "reached" and share and None not in share:
        return (f"{changed} reaches {metric.key} {metric.op} {metric.target:g} on {share[1]:.0%} of seeds, "
                f"{base} on {share[0]:.0%}: a difference of {effect:+.2f}")
    if metric.kind == "gap":
        narrower = (effect < 0) != metric.higher_is_better
        return (f"the train-validation {metric.key} gap is {size:.3g} {'narrower' if narrower else 'wider'} with "
                f"{changed} than with {base}")
    if metric.kind == "grad_ratio":
        return (f"with {changed} the first layer's gradient is 10^{effect:+.2f} = {10 ** effect:.3g} times what it is "
                f"with {base}, relative to the last layer's")
    return f"{changed} has a {metric.describe()} {size:.3g} {'higher' if effect > 0 else 'lower'} than {base}"


def verdict_sentence(plan: Plan, outcome: Outcome, metric: str | None = None) -> str:
    """'Adam (lr 0.001) reaches val_accuracy >= 0.9 14.8 epochs sooner than SGD (lr 0.01) (95% CI -15.8 to
    -13.8; 5 of 5 seeds). Verdict: supported (...).' plus notes (shares, runs that never reached, seeds needed)."""
    from .metrics import parse_metric

    c = outcome.comparison
    m = parse_metric(metric or c.metric)
    base, changed = plan.labels
    if c.effect is None:
        head = f"{changed} against {base}, {m.describe()}: no value yet"
    elif c.effect == 0:
        head = f"{changed} and {base} do not differ in {m.describe()}"
    else:
        head = effect_phrase(m, c.effect, base, changed, (c.share_a, c.share_b))
    head = head[:1].upper() + head[1:]
    pairs = f"{c.seeds_agreeing} of {c.seeds} seeds" if c.paired else f"unpaired, {len(c.a)} and {len(c.b)} runs"
    head += f" (95% CI {_num(c.ci_low)} to {_num(c.ci_high)}; {pairs}). Verdict: {c.verdict} ({c.reason})."
    notes = []
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
