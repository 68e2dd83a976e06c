"""`--metric`: what a comparison measures, parsed from text and evaluated on a run's stored history.

    KEY:best             best value of a stored key (min for keys ending in 'loss', max otherwise)
    KEY:last             value at the last epoch
    epochs_to:KEY>=T     first epoch where KEY >= T (or <= T); never reached: planned epochs + 1
    reached:KEY>=T       1 if KEY ever reached T, else 0 (a share across seeds)
    gap:accuracy         train minus validation accuracy at the last epoch (gap:loss likewise)
    grad_ratio           log10 of first-layer / last-layer weight-gradient norm on the untrained model
                         (from the stored 'stats' snapshot): very negative = vanishing gradients
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_METRIC = "val_accuracy:best"
_TARGET = re.compile(r"^(?P<key>[A-Za-z_][\w.]*)\s*(?P<op>>=|<=)\s*(?P<t>[-+0-9.eE]+)$")


class MetricError(ValueError):
    """A metric text that cannot be parsed; the message says what is expected."""


@dataclass(frozen=True)
class Metric:
    """A parsed metric: kind is best, last, epochs_to, reached, gap or grad_ratio."""

    text: str
    kind: str
    key: str = ""
    op: str = ""
    target: float = 0.0

    @property
    def higher_is_better(self) -> bool:
        if self.kind == "epochs_to" or (self.kind == "gap" and self.key == "accuracy"):
            return False  # train - val accuracy is >= 0 when overfitting; train - val loss is <= 0
        if self.kind == "gap":
            return True
        if self.kind in ("reached", "grad_ratio"):
            return True
        return not self.key.endswith("loss")

    @property
    def share(self) -> bool:
        return self.kind == "reached"

    @property
    def needs_snapshots(self) -> bool:
        return self.kind == "grad_ratio"

    def describe(self) -> str:
        """A phrase for sentences and cards: 'best validation accuracy', 'epochs to val_accuracy >= 0.9'."""
        if self.kind in ("best", "last"):
            return f"{self.kind} {_words(self.key)}"
        if self.kind == "epochs_to":
            return f"epochs to reach {_words(self.key)} {self.op} {self.target:g}"
        if self.kind == "reached":
            return f"share of seeds reaching {_words(self.key)} {self.op} {self.target:g}"
        if self.kind == "gap":
            return f"train minus validation {self.key} at the last epoch"
        return "log10 of first-layer / last-layer gradient norm (untrained net)"


def _words(key: str) -> str:
    return {"val_accuracy": "validation accuracy", "val_loss": "validation loss", "train_loss": "training loss",
            "train_accuracy": "training accuracy", "test_accuracy": "test accuracy"}.get(key, key)


def parse_metric(text: str) -> Metric:
    """Parse a metric text; raises MetricError naming what is wrong."""
    t = (text or "").strip()
    if t == "grad_ratio":
        return Metric(t, "grad_ratio")
    if t in ("gap:accuracy", "gap:loss"):
        return Metric(t, "gap", t.split(":")[1])
    head, sep, rest = t.partition(":")
    if sep and head in ("epochs_to", "reached"):
        m = _TARGET.match(rest.strip())
        if not m:
            raise MetricError(f"metric: {t!r}: expected {head}:KEY>=T or {head}:KEY<=T, e.g. {head}:val_accuracy>=0.9")
        try:
            target = float(m["t"])
        except ValueError:
            raise MetricError(f"metric: {t!r}: {m['t']!r} is not a number") from None
        return Metric(t, head, m["key"], m["op"], target)
    key, sep, which = t.rpartition(":")
    if sep and which in ("best", "last") and re.fullmatch(r"[A-Za-z_][\w.]*", key):
        return Metric(t, which, key)
    raise MetricError(f"metric: {t!r}: expected KEY:best, KEY:last, epochs_to:KEY>=T, epochs_to:KEY<=T, "
                      f"reached:KEY>=T, gap:accuracy, gap:loss or grad_ratio")


def _finite(points: Sequence[tuple[int, float]]) -> list[tuple[int, float]]:
    return [(s, v) for s, v in points if v is not None and math.isfinite(v)]


def evaluate(metric: Metric, history: Mapping[str, Sequence[tuple[int, float]]], epochs_planned: int,
             grad_norms: Sequence[float] | None = None) -> float | None:
    """The metric's value for one run; None when it is undefined (key never logged, all non-finite).

    history: {key: [(epoch, value), ...]}; grad_norms: the weight-gradient norms by depth (grad_ratio).
    """
    if metric.kind == "grad_ratio":
        norms = [g for g in (grad_norms or []) if g is not None]
        if len(norms) < 2 or norms[0] <= 0 or norms[-1] <= 0:
            return None
        return math.log10(norms[0] / norms[-1])
    if metric.kind == "gap":
        train = history.get(f"train_{metric.key}") or []
        val = history.get(f"val_{metric.key}") or []
        if not train or not val:
            return None
        value = train[-1][1] - val[-1][1]
        return value if math.isfinite(value) else None
    points = history.get(metric.key) or []
    if metric.kind == "last":
        return points[-1][1] if points and points[-1][1] is not None and math.isfinite(points[-1][1]) else None
    finite = _finite(points)
    if metric.kind == "best":
        if not finite:
            return None
        values = [v for _, v in finite]
        return min(values) if metric.key.endswith("loss") else max(values)
    hit = next((s for s, v in finite if (v >= metric.target if metric.op == ">=" else v <= metric.target)), None)
    if not points:
        return None
    if metric.kind == "reached":
        return float(hit is not None)
    return float(hit) if hit is not None else float(epochs_planned + 1)


def not_reached(metric: Metric, values: Mapping[int, float | None], epochs_planned: Mapping[int, int]) -> int:
    """epochs_to: how many runs never reached the target (their value is planned epochs + 1)."""
    if metric.kind != "epochs_to":
        return 0
    return sum(1 for rid, v in values.items() if v is not None and v > epochs_planned.get(rid, 0))
