"""Two-class 2-D point sets for decision-boundary experiments: moons, circles, spiral, blobs.

Every generator takes `n` (samples, split evenly between the classes), `noise` (std of Gaussian
jitter added to both coordinates, in the shape's own units, where the shapes span about 2) and an
`rng`. Blobs are two Gaussian clusters of std 0.3 + noise: linearly separable until noise grows,
the only set here a perceptron can learn.
"""

from __future__ import annotations

import numpy as np


def _halves(n: int) -> tuple[int, int]:
    return n // 2, n - n // 2


def _finish(points: list[np.ndarray], noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate(points).astype(np.float64)
    y = np.concatenate([np.full(len(p), c, dtype=np.int64) for c, p in enumerate(points)])
    x += rng.normal(0.0, noise, size=x.shape) if noise > 0 else 0.0
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), y[order]


def make_moons(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (class 0 on top, class 1 below and shifted right)."""
    n0, n1 = _halves(n)
    t0, t1 = rng.uniform(0, np.pi, n0), rng.uniform(0, np.pi, n1)
    upper = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    lower = np.stack([1 - np.cos(t1), 0.5 - np.sin(t1)], axis=1)
    return _finish([upper, lower], noise, rng)


def make_circles(n: int, noise: float, rng: np.random.Generator, factor: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """A ring of radius 1 (class 0) around a ring of radius `factor` (class 1)."""
    n0, n1 = _halves(n)
    t0, t1 = rng.uniform(0, 2 * np.pi, n0), rng.uniform(0, 2 * np.pi, n1)
    outer = np.stack([np.cos(t0), np.sin(t0)], axis=1)
    inner = factor * np.stack([np.cos(t1), np.sin(t1)], axis=1)
    return _finish([outer, inner], noise, rng)


def make_spiral(n: int, noise: float, rng: np.random.Generator, turns: float = 1.5) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaved Archimedean spirals (the second is the first rotated by pi)."""
    arms = []
    for c, m in enumerate(_halves(n)):
        r = rng.uniform(0.05, 1.0, m)
        theta = r * turns * 2 * np.pi + c * np.pi
        arms.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
    return _finish(arms, noise, rng)


def make_blobs(n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Two Gaussian clusters centred at (-1, -1) and (1, 1) with std 0.3 + noise."""
    n0, n1 = _halves(n)
    std = 0.3 + noise
    a = rng.normal(0.0, std, (n0, 2)) + np.array([-1.0, -1.0])
    b = rng.normal(0.0, std, (n1, 2)) + np.array([1.0, 1.0])
    return _finish([a, b], 0.0, rng)


GENERATORS = {"moons": make_moons, "circles": make_circles, "spiral": make_spiral, "blobs": make_blobs}


def make_plane(name: str, n: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Generate the named 2-D data set: (x (n, 2) float32, y (n,) int64 in {0, 1})."""
    try:
        gen = GENERATORS[name]
    except KeyError:
        raise ValueError(f"unknown 2-D data set {name!r}: choose one of {', '.join(GENERATORS)}") from None
    return gen(n, noise, rng)
