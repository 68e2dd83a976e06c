"""Encoding of values the database cannot hold as is: non-finite metrics and typed params."""

from __future__ import annotations

import json
import math

from .models import FLAG_FINITE, FLAG_NAN, FLAG_NEG_INF, FLAG_POS_INF

_RESTORE = {FLAG_NAN: math.nan, FLAG_POS_INF: math.inf, FLAG_NEG_INF: -math.inf}


def encode_metric(value) -> tuple[float | None, int]:
    """(stored value, flag): a finite float as is; NaN, +inf and -inf as NULL plus a flag. None is NaN."""
    v = math.nan if value is None else float(value)
    if math.isfinite(v):
        return v, FLAG_FINITE
    if math.isnan(v):
        return None, FLAG_NAN
    return None, FLAG_POS_INF if v > 0 else FLAG_NEG_INF


def decode_metric(value: float | None, flag: int) -> float:
    """The float that `encode_metric` stored."""
    if flag == FLAG_FINITE and value is not None:
        return value
    return _RESTORE.get(flag, math.nan)


def lower_is_better(key: str) -> bool:
    """Losses are minimised; every other metric (accuracy, ...) is maximised."""
    return key.lower().endswith("loss")


def has_best(key: str) -> bool:
    """Whether a metric's best value means something: losses and accuracies, not the learning rate, an
    epoch's seconds or a gradient norm (the store keeps their largest value as 'best' all the same)."""
    return key.lower().endswith(("loss", "accuracy"))


def _json_default(obj):
    if hasattr(obj, "tolist"):  # NumPy arrays and scalars
        return obj.tolist()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    return str(obj)


def to_json(obj) -> str:
    """JSON text for a spec or param value (tuples as lists, NumPy values as Python ones)."""
    return json.dumps(obj, default=_json_default, ensure_ascii=False, sort_keys=True)


def encode_param(value) -> tuple[str, float | None, str]:
    """(value_text, value_num, value_type) for a param value."""
    if hasattr(value, "item") and not hasattr(value, "__len__"):  # a NumPy scalar
        value = value.item()
    if value is None:
        return "null", None, "null"
    if isinstance(value, bool):
        return ("true" if value else "false"), float(value), "bool"
    if isinstance(value, int):
        return str(value), float(value), "int"
    if isinstance(value, float):
        return repr(value), (value if math.isfinite(value) else None), "float"
    if isinstance(value, str):
        return value, None, "str"
    return to_json(value), None, "json"


def decode_param(text: str | None, value_type: str | None):
    """The Python value `encode_param` stored."""
    if value_type == "null" or text is None:
        return None
    if value_type == "bool":
        return text == "true"
    if value_type == "int":
        return int(text)
    if value_type == "float":
        return float(text)
    if value_type == "json":
        return json.loads(text)
    return text
