"""Save a model (config + weights + buffers) to one .npz file and load it back.

The file holds `__config__` (JSON: config class name and fields), `param/<dotted name>` for every
trainable array and `buffer/<dotted name>` for non-trainable state (BatchNorm running statistics).
Loading rebuilds the model with `build_model` and copies the arrays in, so predictions match exactly.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

import numpy as np

from . import BUILDERS, build_model


def config_to_dict(config) -> dict:
    """{"type": class name, "fields": {...}} for a frozen config dataclass."""
    return {"type": type(config).__name__, "fields": dataclasses.asdict(config)}


def config_from_dict(d: dict):
    """Rebuild a registered config dataclass; JSON lists become tuples again."""
    by_name = {cls.__name__: cls for cls in BUILDERS}
    try:
        cls = by_name[d["type"]]
    except KeyError:
        raise ValueError(f"unknown model config {d.get('type')!r}; known: {', '.join(sorted(by_name))}") from None
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in d["fields"].items()}
    return cls(**fields)


def state_arrays(model, *, copy: bool = True) -> dict[str, np.ndarray]:
    """Every array that makes the model what it is: `param/<name>` and `buffer/<name>` (copies)."""
    arrays = {}  # one pass: a run's snapshots call this after every epoch
    for name, p in model.named_params():
        arrays["param/" + name] = p.copy() if copy else p
    for name, b in model.buffers():
        arrays["buffer/" + name] = b.copy() if copy else b
    return arrays


def load_state_arrays(model, saved: dict[str, np.ndarray]) -> None:
    """Copy `saved` (as state_arrays returns it) into the model's arrays, in place; ValueError on a mismatch."""
    targets = state_arrays(model, copy=False)
    if targets.keys() != saved.keys():
        missing, extra = targets.keys() - saved.keys(), saved.keys() - targets.keys()
        raise ValueError(f"saved arrays do not match {type(model).__name__}: missing {sorted(missing)}, "
                         f"unexpected {sorted(extra)}")
    for key, target in targets.items():
        if target.shape != saved[key].shape:
            raise ValueError(f"{key}: saved shape {saved[key].shape} != model shape {target.shape}")
        target[...] = saved[key]


def save_model(model, path: str | Path | io.BytesIO) -> None:
    """Write config, parameters and buffers of a model built by `build_model` to `path` (.npz)."""
    arrays = {"__config__": np.array(json.dumps(config_to_dict(model.config))), **state_arrays(model, copy=False)}
    np.savez(path, **arrays)


def load_model(path: str | Path | io.BytesIO):
    """Rebuild the saved model; raises ValueError when the file does not match its config."""
    with np.load(path, allow_pickle=False) as f:
        config = config_from_dict(json.loads(str(f["__config__"])))
        saved = {k: f[k] for k in f.files if k != "__config__"}
    first = next((v for k, v in saved.items() if k.startswith("param/")), None)
    dtype = first.dtype if first is not None else np.float32
    model = build_model(config, np.random.default_rng(0), dtype=dtype)
    load_state_arrays(model, saved)
    return model
