"""The decision boundary of a 2-D classifier: predicted probability on a grid over the input plane."""

from __future__ import annotations

import numpy as np

from .classify import class_one_proba, predict_in_batches

GRID_RES = 40
MARGIN = 0.1


def grid_extent(data) -> dict:
    """{x0, x1, y0, y1}: the data's bounding box (train and validation) plus a 10% margin."""
    pts = np.concatenate([data.x_train, data.x_val]).astype(np.float64)
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    pad = np.maximum((hi - lo) * MARGIN, 0.25)
    lo, hi = lo - pad, hi + pad
    return {"x0": float(lo[0]), "x1": float(hi[0]), "y0": float(lo[1]), "y1": float(hi[1])}


def grid_points(extent: dict, res: int = GRID_RES) -> np.ndarray:
    """(res*res, 2) points, row-major: point k is (xs[k % res], ys[k // res])."""
    xs = np.linspace(extent["x0"], extent["x1"], res)
    ys = np.linspace(extent["y0"], extent["y1"], res)
    gx, gy = np.meshgrid(xs, ys)
    return np.stack([gx.ravel(), gy.ravel()], axis=1)


def boundary_grid(model, loss, points: np.ndarray, res: int = GRID_RES) -> np.ndarray:
    """(res, res) probability of class 1 at each of `points`, grid_points(extent, res) as float32 like
    the plane data sets (row = y, column = x). The caller builds them once: the extent never changes."""
    return class_one_proba(loss, predict_in_batches(model, points, batch=4096)).reshape(res, res)
