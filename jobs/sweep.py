"""Sweeps: expand 'name = v1, v2, ...' lines over a base spec into the grid of every combination."""

from __future__ import annotations

import dataclasses
import itertools
import re
from typing import Any

from engine.spec import ExperimentSpec, SpecError, parse_spec

MAX_SWEEP_RUNS = 500
LIST_FIELDS = ("hidden", "channels")


def _values(name: str, text: str) -> list[str]:
    """'0..4' -> 0,1,2,3,4; list fields separate alternatives with '|' ('64|128,64'), others with ','."""
    text = text.strip()
    m = re.fullmatch(r"(-?\d+)\s*\.\.\s*(-?\d+)", text)
    if m:
        lo, hi = int(m.group(1)), int(m.group(2))
        if hi < lo or hi - lo > MAX_SWEEP_RUNS:
            raise SpecError(name, f"range {text!r} must go upwards and hold at most {MAX_SWEEP_RUNS} values")
        return [str(v) for v in range(lo, hi + 1)]
    sep = "|" if name in LIST_FIELDS else ","
    values = [v.strip() for v in text.split(sep) if v.strip()]
    if not values:
        raise SpecError(name, "lists no values")
    return values


def parse_axes(text: str) -> dict[str, list[str]]:
    """Parse sweep lines into {field: [values]}; unknown fields and empty lines refused clearly."""
    fields = {f.name for f in dataclasses.fields(ExperimentSpec)}
    axes: dict[str, list[str]] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if "=" not in line:
            raise SpecError("sweep", f"line {lineno}: {raw.strip()!r} should look like 'optimizer = sgd, adam'")
        name, vals = (s.strip() for s in line.split("=", 1))
        name = name.replace("-", "_")
        if name not in fields:
            raise SpecError("sweep", f"line {lineno}: unknown setting {name!r}")
        if name in axes:
            raise SpecError("sweep", f"line {lineno}: {name} is listed twice")
        axes[name] = _values(name, vals)
    if not axes:
        raise SpecError("sweep", "lists no settings; write lines like 'optimizer = sgd, momentum, adam'")
    return axes


def expand_sweep(base: dict[str, Any], text: str) -> list[ExperimentSpec]:
    """Every combination of the sweep axes over `base`, each validated; any bad one refuses them all."""
    axes = parse_axes(text)
    total = 1
    for vals in axes.values():
        total *= len(vals)
    if total > MAX_SWEEP_RUNS:
        raise SpecError("sweep", f"{total} combinations; a sweep may launch at most {MAX_SWEEP_RUNS} runs")
    specs = []
    names = list(axes)
    for combo in itertools.product(*(axes[n] for n in names)):
        values = {**base, **dict(zip(names, combo))}
        try:
            specs.append(parse_spec(values))
        except SpecError as e:
            where = ", ".join(f"{n}={v}" for n, v in zip(names, combo))
            raise SpecError(e.field, f"{e.message} (in the combination {where})") from None
    return specs
