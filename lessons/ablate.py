"""An ablation of any run: the run's own configuration against one with some knobs changed, on K seeds."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.spec import COMMON_PARAMS, FAMILY_PARAMS, ExperimentSpec, SpecError, parse_spec

from .metrics import Metric
from .runner import BOOKKEEPING, Plan, comparable

_MODEL_KNOBS = set(COMMON_PARAMS).union(*FAMILY_PARAMS.values())


def parse_sets(pairs: list[str]) -> dict[str, str]:
    """['lr=0.01', 'dropout=0.5'] -> {'lr': '0.01', 'dropout': '0.5'}; SpecError for a malformed pair."""
    out = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise SpecError("set", f"{pair!r} must look like NAME=VALUE, e.g. dropout=0.5")
        name, value = pair.split("=", 1)
        out[name.strip().replace("-", "_")] = value.strip()
    if not out:
        raise SpecError("set", "give at least one --set NAME=VALUE")
    return out


def changed_spec(original: Mapping[str, Any] | ExperimentSpec, changes: Mapping[str, Any]) -> ExperimentSpec:
    """The original spec with `changes`, validated like the launch form; SpecError when it is refused or
    when it changes nothing that training uses."""
    base = parse_spec(original)
    for name in changes:
        if name in BOOKKEEPING or name == "seed":
            raise SpecError(name, "is not a knob an ablation can change (it does not change training, "
                                  "or it is chosen by --seeds)")
    changed = parse_spec({**base.to_dict(), **changes})
    if comparable(changed) == comparable(base):
        raise SpecError(next(iter(changes)), "this change changes nothing: the run already has that value")
    differing = [k for k in changes if base.to_dict().get(k) != changed.to_dict().get(k)]
    if changed.params() == base.params() and all(k in _MODEL_KNOBS for k in differing):
        raise SpecError(differing[0], f"this change changes nothing: a {base.model} run with these settings "
                                      f"does not use {differing[0]}")
    return changed


def ablation_plan(run_id: int, original: Mapping[str, Any], changes: Mapping[str, Any], seeds: int,
                  metric: Metric) -> Plan:
    """Both arms (original, changed) on the run's seed and the next K-1; the effect is changed - original."""
    base = parse_spec(original)
    changed = changed_spec(base, changes)
    label = ", ".join(f"{k}={changed.to_dict()[k]}" for k in changes)
    specs, arms = [], []
    for arm, spec in (("original", base), (label, changed)):
        for seed in range(base.seed, base.seed + seeds):
            specs.append(parse_spec({**spec.to_dict(), "seed": seed, "experiment": ""}))
            arms.append(arm)
    experiment = f"ablate-run{run_id}-" + ",".join(f"{k}={v}" for k, v in changes.items())
    return Plan(experiment[:200], specs, arms, ("original", label), metric, None)
