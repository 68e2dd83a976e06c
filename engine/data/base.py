"""The Dataset record every loader returns, and the split/standardise helpers they share."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Dataset:
    """Train/validation(/test) arrays plus what a model needs to know about them.

    task: 'classify' (y is (N,) int labels), 'seq_classify' (x is (N, T) tokens, y (N,)),
    or 'seq2seq' (x (N, T) tokens, y (N, T) tokens).
    """

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    n_classes: int
    input_shape: tuple[int, ...]
    task: str = "classify"
    x_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    vocab_size: int = 0
    meta: dict = field(default_factory=dict)


def stratified_split(y: np.ndarray, fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out): `fraction` of every class held out, at least one sample each when possible."""
    keep, held = [], []
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        rng.shuffle(idx)
        n_held = int(round(len(idx) * fraction))
        if len(idx) > 1:
            n_held = min(max(n_held, 1), len(idx) - 1)
        held.append(idx[:n_held])
        keep.append(idx[n_held:])
    keep_idx, held_idx = np.concatenate(keep), np.concatenate(held)
    rng.shuffle(keep_idx)
    rng.shuffle(held_idx)
    return keep_idx, held_idx


def stratified_subset(y: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first `n` samples taken round-robin across classes (in the existing order)."""
    if n <= 0 or n >= len(y):
        return np.arange(len(y))
    classes = np.unique(y)
    per_class = [list(np.flatnonzero(y == c)) for c in classes]
    out: list[int] = []
    i = 0
    while len(out) < n:
        for lst in per_class:
            if i < len(lst) and len(out) < n:
                out.append(lst[i])
        i += 1
    return np.sort(np.array(out, dtype=np.int64))


def standardize(train: np.ndarray, *others: np.ndarray | None) -> list[np.ndarray | None]:
    """Scale every array by the training set's per-feature mean and std (fitted on train only)."""
    flat = train.reshape(len(train), -1)
    mean = flat.mean(axis=0)
    std = flat.std(axis=0)
    std[std < 1e-8] = 1.0
    def apply(a):
        if a is None:
            return None
        return ((a.reshape(len(a), -1) - mean) / std).reshape(a.shape).astype(np.float32)
    return [apply(train)] + [apply(o) for o in others]


def split_classification(name: str, x: np.ndarray, y: np.ndarray, *, seed: int, val_fraction: float,
                         subset: int, n_classes: int, input_shape: tuple[int, ...],
                         x_test: np.ndarray | None = None, y_test: np.ndarray | None = None,
                         scale: bool = True, meta: dict | None = None) -> Dataset:
    """Seeded stratified train/val split (a given test set stays the test set), subset, standardise."""
    rng = np.random.default_rng(seed)
    tr, va = stratified_split(y, val_fraction, rng)
    x_tr, y_tr, x_va, y_va = x[tr], y[tr], x[va], y[va]
    if subset:
        keep = stratified_subset(y_tr, subset)
        x_tr, y_tr = x_tr[keep], y_tr[keep]
    if scale:
        x_tr, x_va, x_test = standardize(x_tr, x_va, x_test)
    else:
        x_tr, x_va = x_tr.astype(np.float32), x_va.astype(np.float32)
        x_test = None if x_test is None else x_test.astype(np.float32)
    return Dataset(name, x_tr, y_tr.astype(np.int64), x_va, y_va.astype(np.int64), n_classes, input_shape,
                   x_test=x_test, y_test=None if y_test is None else y_test.astype(np.int64), meta=meta or {})
