"""Shared gradient check: analytic backward against central differences, in float64.

The scalar checked is `sum(forward(x) * g)` for a random upstream gradient `g`, so `backward(g)`
must equal d/dx of that scalar and every `grads[k]` d/dparams[k]. The layer (and `x`) must be
float64. Errors are per array: ||analytic - numeric|| / max(||analytic|| + ||numeric||, 1e-2).
The 1e-2 floor only matters for gradients that are truly zero (a bias feeding BatchNorm): central
differences then return round-off noise of ~1e-9, which must not count as a 100% error.

Usage:
    errors = check_layer_gradients(layer, x, rng=np.random.default_rng(0))
    check_loss_gradient(SoftmaxCrossEntropy(), logits, y)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

EPS = 1e-6
TOL = 1e-6


ZERO_SCALE = 1e-2


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """||a - n|| / max(||a|| + ||n||, ZERO_SCALE) over the whole array."""
    diff = float(np.linalg.norm((analytic - numeric).ravel()))
    scale = float(np.linalg.norm(analytic.ravel()) + np.linalg.norm(numeric.ravel()))
    return diff / max(scale, ZERO_SCALE)


def _indices(size: int, max_entries: int | None, rng: np.random.Generator) -> np.ndarray:
    if max_entries is None or size <= max_entries:
        return np.arange(size)
    return rng.choice(size, size=max_entries, replace=False)


def numeric_gradient(f: Callable[[], float], array: np.ndarray, idx: np.ndarray, eps: float) -> np.ndarray:
    """Central differences of the scalar `f()` w.r.t. `array.flat[idx]` (perturbed in place)."""
    out = np.zeros(idx.size)
    flat = array.reshape(-1)  # a view: perturbations reach the layer
    assert np.shares_memory(flat, array), "array must be contiguous to be perturbed in place"
    for j, i in enumerate(idx):
        old = flat[i]
        flat[i] = old + eps
        plus = f()
        flat[i] = old - eps
        minus = f()
        flat[i] = old
        out[j] = (plus - minus) / (2 * eps)
    return out


def check_layer_gradients(
    layer,
    x: np.ndarray,
    *,
    rng: np.random.Generator,
    training: bool = True,
    check_input: bool = True,
    before_forward: Callable[[], None] | None = None,
    max_entries: int | None = None,
    eps: float = EPS,
    tol: float = TOL,
) -> dict[str, float]:
    """Assert backward(g) and every grads[k] match central differences; return the errors.

    Args:
        layer: anything with forward/backward/named_params/named_grads (a layer or a model).
        x: float64 input; integer inputs (token ids) need `check_input=False`.
        before_forward: called before every forward, e.g. to re-seed dropout so the mask is fixed.
        max_entries: check at most this many random entries per array (None = all).
    Returns:
        {"x": err, "<param name>": err, ...}
    """
    prep = before_forward or (lambda: None)
    prep()
    out = layer.forward(x, training=training)
    g = rng.standard_normal(np.shape(out))

    def scalar() -> float:
        prep()
        return float(np.sum(layer.forward(x, training=training) * g))

    # analytic: one forward/backward with the same (re-seeded) state
    if hasattr(layer, "zero_grads"):
        layer.zero_grads()
    prep()
    layer.forward(x, training=training)
    dx = layer.backward(g.copy())
    analytic = {name: np.array(gr, dtype=np.float64, copy=True) for name, gr in layer.named_grads()}
    params = dict(layer.named_params())
    assert analytic.keys() == params.keys(), "named_grads and named_params disagree"

    errors: dict[str, float] = {}
    if check_input:
        x = np.ascontiguousarray(x)
        idx = _indices(x.size, max_entries, rng)
        num = numeric_gradient(scalar, x, idx, eps)
        errors["x"] = relative_error(np.asarray(dx).reshape(-1)[idx], num)
    for name, p in params.items():
        assert p.dtype == np.float64, f"{name} is {p.dtype}; gradient checks need float64"
        idx = _indices(p.size, max_entries, rng)
        num = numeric_gradient(scalar, p, idx, eps)
        errors[name] = relative_error(analytic[name].reshape(-1)[idx], num)

    bad = {k: v for k, v in errors.items() if not v < tol}
    assert not bad, f"gradient check failed (tol {tol:g}): {bad}"
    return errors


def check_loss_gradient(loss, outputs: np.ndarray, y: np.ndarray, *, eps: float = EPS,
                        tol: float = TOL) -> float:
    """Assert loss.grad(outputs, y) matches central differences of loss.value; return the error."""
    outputs = np.array(outputs, dtype=np.float64, copy=True)
    analytic = np.asarray(loss.grad(outputs, y), dtype=np.float64)
    num = numeric_gradient(lambda: loss.value(outputs, y), outputs, np.arange(outputs.size), eps)
    err = relative_error(analytic.reshape(-1), num)
    assert err < tol, f"loss gradient check failed: {err:g} >= {tol:g}"
    return err
