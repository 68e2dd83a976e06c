"""Per-parameter views: gradient norm, weight norm, update-to-weight ratio, histograms.

A `ParamTable` holds every named parameter (and its gradient) as one float64 vector with a segment
per parameter, so the norms and histograms of all parameters take a fixed handful of NumPy calls
however many parameters a model has (a 20-layer ResNet has about 60; a call per parameter per view
was most of a snapshot's cost).
"""

from __future__ import annotations

import itertools
import math

import numpy as np

HIST_BINS = 30


def norm(a: np.ndarray) -> float:
    """Euclidean (Frobenius) norm in float64."""
    a = a.astype(np.float64, copy=False).ravel()
    return float(np.sqrt(a @ a))


def _num(v: float) -> float | None:
    """A float rounded to 5 significant digits (as `inspector.compact` does); NaN/inf as None."""
    return float(f"{v:.5g}") if math.isfinite(v) else None


def _flat(arrays: list[np.ndarray]) -> np.ndarray:
    """The arrays' values one after another, as one float64 vector."""
    return np.concatenate([a.ravel() for a in arrays], dtype=np.float64) if arrays else np.zeros(0)


class ParamTable:
    """Every named parameter of a model as one float64 vector `w` (and the gradients as `g`, None
    when `with_grads` is false); parameter k is the segment starts[k]:starts[k] + sizes[k]."""

    def __init__(self, model, *, with_grads: bool) -> None:
        named = list(model.named_params())
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        sizes = [p.size for _, p in named]
        self.sizes = np.array(sizes, dtype=np.int64)
        self.starts = np.array([0, *itertools.accumulate(sizes)][:len(sizes)], dtype=np.int64)
        self._segments = bool(sizes) and all(sizes)  # every segment non-empty: reduceat works as is
        self.w = _flat([p for _, p in named])
        self.g: np.ndarray | None = None
        self.has_grad = np.zeros(len(named), dtype=bool)
        if with_grads:
            grads = dict(model.named_grads())
            self.has_grad = np.array([n in grads for n in self.names], dtype=bool)
            self.g = _flat([grads[n] if n in grads else np.zeros(s) for n, s in zip(self.names, self.shapes)])
        self.layout = tuple(zip(self.names, self.shapes))
        self.w_norm: np.ndarray | None = None  # set by param_stats, reused as the next ratio's denominator

    def sumsq(self, v: np.ndarray) -> np.ndarray:
        """(P,) sum of squares of each parameter's segment of `v`."""
        if self._segments:
            return np.add.reduceat(np.square(v), self.starts)
        out = np.zeros(len(self.sizes))
        nonempty = self.sizes > 0
        if nonempty.any():
            out[nonempty] = np.add.reduceat(v * v, self.starts[nonempty])
        return out


def param_stats(table: ParamTable, previous: ParamTable | None) -> list[dict]:
    """One row per named parameter: shape, weight norm, gradient norm and update ratio (compact values).

    `update_ratio` = ||W_now - W_before|| / ||W_before||, where W_before is `previous` (the weights at
    the last recorded epoch); None when there is no previous table. Gradient norms are those the last
    backward left in `named_grads` (the probe batch's mean loss), None without gradients.
    """
    w_norm = table.w_norm = np.sqrt(table.sumsq(table.w))
    g_norm = np.sqrt(table.sumsq(table.g)) if table.g is not None else None
    ratio = None
    if previous is not None and previous.layout == table.layout:
        before = previous.w_norm if previous.w_norm is not None else np.sqrt(previous.sumsq(previous.w))
        change = np.sqrt(table.sumsq(table.w - previous.w))
        ratio = np.divide(change, before, out=np.full_like(change, np.nan), where=before > 0)
    # as Python numbers: one call per column, not a NumPy scalar per parameter and column
    w_norm, sizes, has_grad = w_norm.tolist(), table.sizes.tolist(), table.has_grad.tolist()
    g_norm = g_norm.tolist() if g_norm is not None else None
    ratio = ratio.tolist() if ratio is not None else None
    rows = []
    for k, (name, shape) in enumerate(table.layout):
        rows.append({"name": name, "shape": list(shape), "size": sizes[k], "weight_norm": _num(w_norm[k]),
                     "grad_norm": _num(g_norm[k]) if g_norm is not None and has_grad[k] else None,
                     "update_ratio": _num(ratio[k]) if ratio is not None else None})
    return rows


def histogram(a: np.ndarray, bins: int = HIST_BINS) -> dict:
    """{lo, hi, frac}: the fraction of values in each of `bins` equal bins over [min, max]."""
    a = a.astype(np.float64, copy=False).ravel()
    finite = a[np.isfinite(a)]
    if finite.size == 0:
        return {"lo": 0.0, "hi": 0.0, "frac": [0.0] * bins}
    lo, hi = float(finite.min()), float(finite.max())
    if hi <= lo:
        hi = lo + 1e-12
    # equal bins by index arithmetic (like np.histogram with a range, the maximum in the last bin)
    idx = np.minimum(((finite - lo) * (bins / (hi - lo))).astype(np.intp), bins - 1)
    counts = np.bincount(idx, minlength=bins)
    return {"lo": lo, "hi": hi, "frac": np.round(counts / finite.size, 5).tolist()}


def segment_histograms(table: ParamTable, v: np.ndarray, bins: int = HIST_BINS) -> list[dict]:
    """`histogram` of every parameter's segment of `v`, with one bincount for all of them."""
    n = len(table.sizes)
    if n == 0 or not (table.sizes > 0).all():
        return [histogram(v[s:s + z], bins) for s, z in zip(table.starts, table.sizes)]
    lo, hi = np.minimum.reduceat(v, table.starts), np.maximum.reduceat(v, table.starts)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):  # NaN or inf somewhere: the careful path
        return [histogram(v[s:s + z], bins) for s, z in zip(table.starts, table.sizes)]
    hi = np.where(hi <= lo, lo + 1e-12, hi)
    # per-value copies of each segment's lo and scale by np.repeat (cheaper than gathering by index)
    idx = ((v - np.repeat(lo, table.sizes)) * np.repeat(bins / (hi - lo), table.sizes)).astype(np.intp)
    np.minimum(idx, bins - 1, out=idx)
    idx += np.repeat(np.arange(0, n * bins, bins), table.sizes)  # each segment's own bins
    counts = np.bincount(idx, minlength=n * bins).reshape(n, bins)
    frac = np.round(counts / table.sizes[:, None], 5).tolist()
    return [{"lo": a, "hi": b, "frac": f} for a, b, f in zip(lo.tolist(), hi.tolist(), frac)]


def _compact_hist(h: dict) -> dict:
    """lo and hi rounded like `inspector.compact`; the fractions are already rounded to 5 decimals."""
    return {"lo": _num(h["lo"]), "hi": _num(h["hi"]), "frac": h["frac"]}


def param_histograms(table: ParamTable, bins: int = HIST_BINS) -> dict:
    """{"bins": bins, "params": [{name, weights: histogram, grads: histogram | None}]} (compact values)."""
    weights = [_compact_hist(h) for h in segment_histograms(table, table.w, bins)]
    grads = ([_compact_hist(h) for h in segment_histograms(table, table.g, bins)] if table.g is not None
             else [None] * len(weights))
    rows = [{"name": name, "weights": weights[k], "grads": grads[k] if table.has_grad[k] else None}
            for k, name in enumerate(table.names)]
    return {"bins": bins, "params": rows}
