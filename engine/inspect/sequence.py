"""Recurrent views: hidden-state norm, gate activations and input gradient per timestep, and the
prediction confidence after each token (the series' word-by-word view)."""

from __future__ import annotations

import numpy as np

from .classify import predict_proba
from .hooks import model_forward
from .walk import leaf_layers

GATE_UNIT_SEQUENCES = 1  # per-unit gate heatmaps are kept for this many probe sequences (the longest)


def recurrent_leaves(model) -> list[tuple[str, object]]:
    """Leaf layers that unroll a cell over time (they expose `last_hidden_states`)."""
    return [(name, layer) for name, layer in leaf_layers(model) if hasattr(type(layer), "last_hidden_states")]


def hidden_norms(hidden: np.ndarray) -> np.ndarray:
    """(T,) mean over sequences of ||h_t|| for hidden states (N, T, H)."""
    h = hidden.astype(np.float64, copy=False)
    return np.sqrt(np.einsum("nth,nth->nt", h, h)).mean(axis=0)


def gate_means(gates: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """{gate: (T,) mean activation over sequences and units}."""
    return {name: g.astype(np.float64).mean(axis=(0, 2)).tolist() for name, g in gates.items()}


def timestep_grad_norms(dx: np.ndarray) -> np.ndarray:
    """(T,) mean over sequences of ||dL/dx_t|| for an input gradient (N, T, D)."""
    d = dx.astype(np.float64, copy=False)
    return np.sqrt(np.einsum("ntd,ntd->nt", d, d)).mean(axis=0)


def step_probabilities(model, loss, x: np.ndarray, y: np.ndarray, outputs: np.ndarray) -> np.ndarray | None:
    """(N, T, C) class probabilities after each token.

    Per-token models: their own outputs. Recurrent classifiers with `step_logits()` (the head applied
    to every step of the last forward, which must be the forward on `x`). Any other sequence
    classifier: one forward per prefix x[:, :t+1].
    """
    if outputs.ndim == 3:
        return predict_proba(loss, outputs)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer):
        return None
    if hasattr(model, "step_logits"):
        return predict_proba(loss, model.step_logits())
    steps = [predict_proba(loss, model_forward(model, x[:, :t + 1])) for t in range(x.shape[1])]
    return np.stack(steps, axis=1)


def true_class_confidence(proba: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(N, T) probability given to the right answer after each token: the label (y (N,)) or the
    target token at that position (y (N, T))."""
    if y.ndim == 1:
        idx = np.broadcast_to(y[:, None], proba.shape[:2])
    else:
        idx = y
    return np.take_along_axis(proba, idx[..., None].astype(np.intp), axis=-1)[..., 0]
