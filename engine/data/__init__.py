"""Data sets: generated or shipped in a package, never downloaded. `load_dataset(spec)` is the entry."""

from __future__ import annotations

from ..spec import LOGIC_DATASETS, ExperimentSpec
from .base import Dataset, split_classification, standardize, stratified_split, stratified_subset
from .digits import read_digits
from .logic import load_logic

# Every run on a data set sees the same split, whatever its seed: the seed varies training only.
DATA_SEED = 0


def load_dataset(spec: ExperimentSpec) -> Dataset:
    """Load the spec's data set with its seeded split; images keep (N, 1, H, W) for CNNs."""
    name = spec.dataset
    if name in LOGIC_DATASETS:
        return load_logic(name)
    if name == "digits":
        x, y = read_digits()
        image = spec.model == "cnn"
        x = x[:, None, :, :] if image else x.reshape(len(x), -1)
        shape = (1, 8, 8) if image else (64,)
        return split_classification("digits", x, y, seed=DATA_SEED, val_fraction=spec.val_fraction,
                                    subset=spec.subset, n_classes=10, input_shape=shape,
                                    meta={"image_side": 8})
    raise ValueError(f"data set {name!r} is not available yet")


__all__ = ["Dataset", "load_dataset", "split_classification", "standardize", "stratified_split",
           "stratified_subset"]
