"""Classifier views: class probabilities, the validation confusion matrix, the most confidently wrong."""

from __future__ import annotations

import numpy as np

from ..layers.activations import sigmoid
from ..losses import softmax
from .hooks import model_forward

# The confusion matrix is computed on at most this many validation examples (the first ones).
CONFUSION_CAP = 2000
MAX_CONFUSION_CLASSES = 50
WRONG_TOP = 8


def predict_proba(loss, outputs: np.ndarray) -> np.ndarray:
    """Class probabilities (..., C) from a model's outputs under its loss; one output becomes two classes."""
    out = outputs.astype(np.float64, copy=False)
    name = getattr(loss, "name", "softmax_ce")
    if out.shape[-1] == 1:
        p1 = _one_output_p1(name, out)
        return np.concatenate([1.0 - p1, p1], axis=-1)
    if name == "softmax_ce":
        if out.shape[-1] == 2:  # p_k = 1 / (1 + exp(z_other - z_k))
            e = np.empty(out.shape)
            np.subtract(out[..., 1], out[..., 0], out=e[..., 0])
            np.negative(e[..., 0], out=e[..., 1])
            return _one_over_one_plus_exp(e)
        return softmax(out)
    scores = np.clip(out, 0.0, None)
    total = scores.sum(axis=-1, keepdims=True)
    return np.where(total > 0, scores / np.where(total > 0, total, 1.0), 1.0 / out.shape[-1])


def class_one_proba(loss, outputs: np.ndarray) -> np.ndarray:
    """`predict_proba(loss, outputs)[..., 1]` of a two-class output, computing that column alone."""
    out = outputs.astype(np.float64, copy=False)
    name = getattr(loss, "name", "softmax_ce")
    if out.shape[-1] == 1:
        return _one_output_p1(name, out)[..., 0]
    if out.shape[-1] == 2 and name == "softmax_ce":
        return _one_over_one_plus_exp(out[..., 0] - out[..., 1])
    return predict_proba(loss, out)[..., 1]


def _one_output_p1(name: str, out: np.ndarray) -> np.ndarray:
    """P(class 1) from a single output: its sigmoid under BCE, else the output clipped to [0, 1]."""
    return sigmoid(out) if name == "bce" else np.clip(out, 0.0, 1.0)


def _one_over_one_plus_exp(e: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(e)), in place on a float64 array: two-class softmax elementwise, without softmax's
    max and sum over a last axis of length 2, which NumPy runs row by row (0.1 ms on the 1600-point
    boundary grid). The exponent is capped at 700, below overflow: a class that far behind gets
    1e-304 instead of 0."""
    np.minimum(e, 700.0, out=e)
    np.exp(e, out=e)
    e += 1.0
    return np.reciprocal(e, out=e)


def predict_in_batches(model, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """Evaluation-mode outputs for x, a batch at a time."""
    if len(x) <= batch:
        return model_forward(model, x)
    return np.concatenate([model_forward(model, x[i:i + batch]) for i in range(0, len(x), batch)])


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    m = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(m, (labels.ravel().astype(np.intp), predicted.ravel().astype(np.intp)), 1)
    return m


def validation_confusion(model, loss, data, cap: int = CONFUSION_CAP) -> np.ndarray | None:
    """The confusion matrix on (up to `cap` of) the validation split; None when classes are too many."""
    if data.n_classes > MAX_CONFUSION_CLASSES or data.n_classes < 2:
        return None
    x, y = data.x_val[:cap], data.y_val[:cap]
    predicted = loss.predict(predict_in_batches(model, x))
    return confusion_matrix(np.asarray(y), np.asarray(predicted).reshape(np.shape(y)), data.n_classes)


def confidently_wrong(proba: np.ndarray, labels: np.ndarray, probe_index: np.ndarray,
                      top: int = WRONG_TOP) -> list[dict]:
    """The probe examples the model gets wrong with the highest confidence, most confident first.

    Per-token outputs (N, T, C): an example is wrong if any token is; its confidence is the mean
    confidence of its wrong tokens.
    """
    predicted = proba.argmax(axis=-1)
    confidence = proba.max(axis=-1)
    wrong = predicted != labels
    if wrong.ndim > 1:  # per token
        n_wrong = wrong.reshape(len(wrong), -1).sum(axis=1)
        score = (confidence * wrong).reshape(len(wrong), -1).sum(axis=1) / np.maximum(n_wrong, 1)
    else:
        n_wrong, score = wrong.astype(np.int64), confidence
    order = np.argsort(-score, kind="stable")
    top_i = order[n_wrong[order] > 0][:top]
    # each column read for the chosen examples at once, as Python numbers
    rows = [{"probe": i, "index": j, "confidence": c}
            for i, j, c in zip(top_i.tolist(), probe_index[top_i].tolist(), score[top_i].tolist())]
    if wrong.ndim == 1:
        label = labels[top_i].astype(np.intp)
        for row, t, p, pt in zip(rows, label.tolist(), predicted[top_i].tolist(), proba[top_i, label].tolist()):
            row.update(label=t, predicted=p, p_true=pt)
    else:
        for row, n in zip(rows, n_wrong[top_i].tolist()):
            row["wrong_tokens"] = n
    return rows
