"""Attention views: every head's weights on the probe sequences, each head's entropy and the mean
relative offset it attends to (negative: looks back, 0: itself, positive: looks ahead)."""

from __future__ import annotations

import numpy as np

from .walk import leaf_layers

ATTENTION_SEQUENCES = 4  # full weight maps are kept for this many probe sequences (the longest ones)


def attention_maps(model, leaves=None) -> list[np.ndarray]:
    """Per attention layer, the last forward's weights (N, heads, Tq, Tk).

    From `model.attention_weights()` when the model has it, otherwise from every leaf layer's
    `last_weights` ((N, Tq, Tk) maps of single-head attention become (N, 1, Tq, Tk)).
    """
    if hasattr(model, "attention_weights"):
        maps = [w for w in model.attention_weights() if w is not None]
    else:
        maps = [layer.last_weights for _, layer in (leaf_layers(model) if leaves is None else leaves)
                if getattr(layer, "last_weights", None) is not None]
    return [w[:, None] if w.ndim == 3 else w for w in maps]


def head_entropy(weights: np.ndarray) -> np.ndarray:
    """(heads,) mean entropy (nats) of the attention rows; rows with no weight (fully masked) are skipped."""
    w = weights.astype(np.float64, copy=False)
    ent = -np.sum(np.where(w > 0, w * np.log(np.where(w > 0, w, 1.0)), 0.0), axis=-1)  # (N, h, Tq)
    live = w.sum(axis=-1) > 0.5
    return np.array([ent[:, h][live[:, h]].mean() if live[:, h].any() else 0.0 for h in range(w.shape[1])])


def head_offset(weights: np.ndarray) -> np.ndarray:
    """(heads,) mean of sum_j w_ij (j - i): where each head looks relative to the query's position."""
    w = weights.astype(np.float64, copy=False)
    tq, tk = w.shape[-2:]
    rel = np.arange(tk)[None, :] - np.arange(tq)[:, None]  # (Tq, Tk)
    off = np.einsum("nhqk,qk->nhq", w, rel)
    live = w.sum(axis=-1) > 0.5
    return np.array([off[:, h][live[:, h]].mean() if live[:, h].any() else 0.0 for h in range(w.shape[1])])
