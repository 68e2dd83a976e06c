"""Data sets: generated or shipped in a package, never downloaded. `load_dataset(spec)` is the entry."""

from __future__ import annotations

import numpy as np

from ..spec import LOGIC_DATASETS, PLANE_DATASETS, SEQUENCE_CLASSIFY, SEQUENCE_TO_SEQUENCE, ExperimentSpec
from .base import Dataset, split_classification, standardize, stratified_split, stratified_subset
from .digits import read_digits
from .idx import load_idx_dataset
from .logic import load_logic
from .plane import make_plane
from .sequences import load_sequence_task

# Every run on a data set sees the same split, whatever its seed: the seed varies training only.
DATA_SEED = 0
# Data sets without their own test set hold out this stratified fraction as one (before val).
TEST_FRACTION = 0.2


def load_dataset(spec: ExperimentSpec) -> Dataset:
    """Load the spec's data set with its seeded split; images keep (N, 1, H, W) for CNNs."""
    name = spec.dataset
    if name in LOGIC_DATASETS:
        return load_logic(name)
    if name in PLANE_DATASETS:
        x, y = make_plane(name, spec.n_samples, spec.noise, np.random.default_rng(DATA_SEED))
        return _with_test_split(name, x, y, spec, n_classes=2, input_shape=(2,), meta={"plane": True})
    if name == "digits":
        x, y = read_digits()
        image = spec.model == "cnn"
        x = x[:, None, :, :] if image else x.reshape(len(x), -1)
        shape = (1, 8, 8) if image else (64,)
        rest, test = stratified_split(y, TEST_FRACTION, np.random.default_rng(DATA_SEED + 1))
        data = split_classification("digits", x[rest], y[rest], seed=DATA_SEED, val_fraction=spec.val_fraction,
                                    subset=spec.subset, n_classes=10, input_shape=shape, x_test=x[test],
                                    y_test=y[test], scale=False, meta={"image_side": 8})
        return _standardize_pixels(data, 16.0)
    if name in ("mnist", "fashion-mnist"):
        return _load_idx_images(name, spec)
    if name in SEQUENCE_CLASSIFY + SEQUENCE_TO_SEQUENCE:
        return load_sequence_task(name, seq_len=spec.seq_len, vocab=spec.vocab, n_samples=spec.n_samples,
                                  val_fraction=spec.val_fraction, test_fraction=TEST_FRACTION, seed=DATA_SEED,
                                  subset=spec.subset)
    raise ValueError(f"data set {name!r} is not available yet")


def data_key(spec: ExperimentSpec) -> tuple:
    """Everything that determines `load_dataset(spec)`'s result: two specs with the same key get the
    same arrays, so a worker may load a data set once and train many runs on it."""
    import os

    return (spec.dataset, spec.model == "cnn", spec.n_samples, spec.noise, spec.seq_len, spec.vocab,
            spec.subset, spec.val_fraction, spec.data_dir or os.environ.get("NNLAB_DATA_DIR", ""))


def _with_test_split(name: str, x: np.ndarray, y: np.ndarray, spec: ExperimentSpec, **kw) -> Dataset:
    """Hold out a stratified test set (fixed seed), then split train/val and standardise on train."""
    rest, test = stratified_split(y, TEST_FRACTION, np.random.default_rng(DATA_SEED + 1))
    return split_classification(name, x[rest], y[rest], seed=DATA_SEED, val_fraction=spec.val_fraction,
                                subset=spec.subset, x_test=x[test], y_test=y[test], **kw)


def _load_idx_images(name: str, spec: ExperimentSpec) -> Dataset:
    """MNIST / Fashion-MNIST: pixels / 255, then one global mean and std fitted on the training split."""
    x, y, x_test, y_test = load_idx_dataset(name, spec.data_dir)
    image = spec.model == "cnn"
    side = x.shape[1]
    shape = (1, side, side) if image else (side * side,)
    def as_input(a):
        return a[:, None, :, :] if image else a.reshape(len(a), -1)
    data = split_classification(name, as_input(x), y, seed=DATA_SEED, val_fraction=spec.val_fraction,
                                subset=spec.subset, n_classes=10, input_shape=shape, x_test=as_input(x_test),
                                y_test=y_test, scale=False, meta={"image_side": side})
    return _standardize_pixels(data, 255.0)


def _standardize_pixels(data: Dataset, max_value: float) -> Dataset:
    """In place: one mean and std over all training pixels (in [0, 1] units), applied to every split.

    Per-pixel statistics would turn a border pixel that is nearly always 0 in training into a
    value of 50+ standard deviations in a validation image; a global scale cannot.
    """
    mean = float(data.x_train.mean(dtype=np.float64))
    std = float(data.x_train.std(dtype=np.float64)) or 1.0
    for a in (data.x_train, data.x_val, data.x_test):
        a -= mean
        a *= 1.0 / std
    data.meta.update({"pixel_mean": mean / max_value, "pixel_std": std / max_value})
    return data


__all__ = ["Dataset", "data_key", "load_dataset", "split_classification", "standardize", "stratified_split",
           "stratified_subset"]
