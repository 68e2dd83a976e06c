"""The probe batch: a fixed handful of validation examples every run on a data set looks at.

It depends only on the data set's validation split (itself fixed by DATA_SEED) and PROBE_SEED, never
on the run's seed, so two runs on the same data see the same probe inputs and their views compare.
Classification probes take classes in turn, so every class is present when the probe is big enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROBE_SEED = 20_240_917
# Probe sizes: 2-D point sets are cheap and want many points; images and sequences a handful.
PLANE_PROBE = 256
IMAGE_PROBE = 32
SEQUENCE_PROBE = 16
DEFAULT_PROBE = 32


@dataclass(frozen=True)
class Probe:
    """Probe inputs and labels, and their positions in the validation split."""

    index: np.ndarray  # (P,) positions in data.x_val
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.index)


def default_probe_size(data) -> int:
    """How many examples a data set's probe holds."""
    if data.meta.get("plane"):
        return PLANE_PROBE
    if data.task in ("seq_classify", "seq2seq"):
        return SEQUENCE_PROBE
    if len(data.input_shape) == 3 or data.meta.get("image_side"):
        return IMAGE_PROBE
    return DEFAULT_PROBE


def focus_examples(probe: Probe, k: int, pad_id: int | None = None) -> list[int]:
    """Probe positions of the `k` longest token sequences (most non-padding tokens; ties: earlier
    first), the examples whose full attention maps and gates are kept. Non-sequence probes: 0..k-1."""
    x = np.asarray(probe.x)
    if x.ndim != 2 or not np.issubdtype(x.dtype, np.integer) or pad_id is None:
        return list(range(min(k, len(probe))))
    lengths = (x != pad_id).sum(axis=1)
    return [int(i) for i in np.argsort(-lengths, kind="stable")[:k]]


def _round_robin(order: np.ndarray, labels: np.ndarray, size: int) -> np.ndarray:
    """Take `size` positions from `order`, cycling over the classes in `labels`."""
    classes = sorted(set(labels.tolist()))  # np.unique would import numpy.ma on first use
    queues = [order[labels[order] == c] for c in classes]
    picked: list[int] = []
    depth = 0
    while len(picked) < size:
        for q in queues:
            if depth < len(q) and len(picked) < size:
                picked.append(int(q[depth]))
        depth += 1
    return np.array(picked, dtype=np.int64)


def select_probe(data, size: int | None = None, seed: int = PROBE_SEED) -> Probe:
    """The probe batch of `data`'s validation split: `size` examples (all of them if fewer)."""
    n = len(data.x_val)
    size = min(size or default_probe_size(data), n)
    order = np.random.default_rng(seed).permutation(n)
    y = np.asarray(data.y_val)
    if y.ndim == 1:
        index = _round_robin(order, y, size)
    else:
        index = order[:size].astype(np.int64)
    return Probe(index, data.x_val[index], data.y_val[index])
