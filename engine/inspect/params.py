"""Per-parameter views: gradient norm, weight norm, update-to-weight ratio, histograms."""

from __future__ import annotations

import numpy as np

HIST_BINS = 30


def norm(a: np.ndarray) -> float:
    """Euclidean (Frobenius) norm in float64."""
    a = a.astype(np.float64, copy=False).ravel()
    return float(np.sqrt(a @ a))


def copy_params(model) -> dict[str, np.ndarray]:
    """A copy of every named parameter: the reference for the next update ratio."""
    return {name: p.copy() for name, p in model.named_params()}


def param_stats(model, previous: dict[str, np.ndarray] | None, *, with_grads: bool) -> list[dict]:
    """One row per named parameter: shape, weight norm, gradient norm and update ratio.

    `update_ratio` = ||W_now - W_before|| / ||W_before||, where W_before is `previous` (the weights at
    the last recorded epoch); None when there is no previous copy. Gradient norms are those the last
    backward left in `named_grads` (the probe batch's mean loss), None when `with_grads` is false.
    """
    grads = dict(model.named_grads()) if with_grads else {}
    rows = []
    for name, p in model.named_params():
        w_norm = norm(p)
        row = {"name": name, "shape": list(p.shape), "size": int(p.size), "weight_norm": w_norm,
               "grad_norm": norm(grads[name]) if name in grads else None, "update_ratio": None}
        if previous is not None and name in previous and previous[name].shape == p.shape:
            before = norm(previous[name])
            row["update_ratio"] = norm(p - previous[name]) / before if before > 0 else None
        rows.append(row)
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


def param_histograms(model, *, with_grads: bool, bins: int = HIST_BINS) -> dict:
    """{"bins": bins, "params": [{name, weights: histogram, grads: histogram | None}]}."""
    grads = dict(model.named_grads()) if with_grads else {}
    rows = [{"name": name, "weights": histogram(p, bins),
             "grads": histogram(grads[name], bins) if name in grads else None}
            for name, p in model.named_params()]
    return {"bins": bins, "params": rows}
