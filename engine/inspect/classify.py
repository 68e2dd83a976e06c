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
        p1 = sigmoid(out) if name == "bce" else np.clip(out, 0.0, 1.0)
        return np.concatenate([1.0 - p1, p1], axis=-1)
    if name == "softmax_ce":
        return softmax(out)
    scores = np.clip(out, 0.0, None)
    total = scores.sum(axis=-1, keepdims=True)
    return np.where(total > 0, scores / np.where(total > 0, total, 1.0), 1.0 / out.shape[-1])


def predict_in_batches(model, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """Evaluation-mode outputs for x, a batch at a time."""
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
    order = [i for i in np.argsort(-score, kind="stable") if n_wrong[i] > 0][:top]
    rows = []
    for i in order:
        row = {"probe": int(i), "index": int(probe_index[i]), "confidence": float(score[i])}
        if wrong.ndim == 1:
            row.update(label=int(labels[i]), predicted=int(predicted[i]), p_true=float(proba[i, int(labels[i])]))
        else:
            row["wrong_tokens"] = int(n_wrong[i])
        rows.append(row)
    return rows
