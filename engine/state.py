"""Training state: everything a run needs to go on after epoch k exactly as if it had never stopped.

A `TrainingState` is the epoch count plus two flat maps:

    arrays  "model/param/<dotted name>"        weights (the names `named_params()` yields)
            "model/buffer/<dotted name>"       BatchNorm running statistics
            "optimizer/<dotted name>/<slot>"   velocity, sums of squares, Adam's m and v sums
            "callback/<Class>/<key>"           a callback's arrays (EarlyStopping's best weights)
    meta    JSON values only:
            "model_config"  the model's config ({"type", "fields"}, as models.io writes it)
            "model_extra"   a model's own non-array state (the perceptron's converged flag), or null
            "optimizer"     {"type": class name, ...}; Adam adds "t", its step count per parameter
            "generators"    [{"paths": [...], "state": bit_generator.state}] for every np.random.Generator
                            reachable from the trainer (its rng, and any a layer holds, e.g. dropout's);
                            `paths` are every place it was found, so shared generators stay shared
            "callbacks"     {class name: scalars} for callbacks with get_state/set_state
            "final"         the metrics of epoch k (what a run that resumes with no epochs left reports)

The learning-rate schedule is a pure function of the epoch, so `epoch` is its position. Layer caches
and gradients are not state: every batch rewrites them before reading them.

Restoring comes in two strengths. A resume (`fork=False`) demands the same model, optimizer class,
generators and stateful callbacks, and raises ValueError naming the first difference. A fork
(`fork=True`) takes a checkpoint into a run whose spec changed one knob: weights must still match
(by name, or position and shape when only parameterless layers moved, e.g. dropout added to an MLP);
optimizer state carries over only to an optimizer of the same class (else it starts fresh), and
callbacks and generators carry over where both runs have them. A fork continues the parent's random
streams, so a changed seed alone changes nothing; fork from `state.without_generators()` to draw
from the child's seed instead.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .layers.base import Layer
from .models.io import config_to_dict, load_state_arrays, state_arrays


@dataclass
class TrainingState:
    """Epoch count (epochs completed), arrays and JSON metadata; see the module docstring for the keys."""

    epoch: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def nbytes(self) -> int:
        """Bytes of array data: what a checkpoint of this state costs, before a small per-array overhead."""
        return int(sum(a.nbytes for a in self.arrays.values()))

    def without_generators(self) -> TrainingState:
        """This state without its generator states: a fork from it keeps the new run's own freshly seeded
        generators (a fork with another seed: the same weights, new shuffling and dropout masks)."""
        return TrainingState(self.epoch, self.arrays, {**self.meta, "generators": []})

    def section(self, prefix: str) -> dict[str, np.ndarray]:
        """The arrays under `prefix` ("optimizer/"), keys without it."""
        return {k[len(prefix):]: a for k, a in self.arrays.items() if k.startswith(prefix)}


_LEAVES = {np.ndarray, int, float, bool, str, type(None), np.float32, np.float64}


def find_generators(trainer) -> list[tuple[list[str], np.random.Generator]]:
    """Every distinct Generator reachable from the trainer's rng, model, loss and optimizer, with the
    attribute paths that reach it ("trainer.rng", "model.layers.2.rng")."""
    found: dict[int, tuple[list[str], np.random.Generator]] = {}
    seen: set[int] = set()

    def visit(obj, path: str) -> None:
        if type(obj) in _LEAVES:  # most attributes: arrays and numbers
            return
        if isinstance(obj, np.random.Generator):
            found.setdefault(id(obj), ([], obj))[0].append(path)
        elif isinstance(obj, dict):
            for k, v in obj.items():
                visit(v, f"{path}.{k}")
        elif isinstance(obj, list | tuple):
            for i, v in enumerate(obj):
                visit(v, f"{path}.{i}")
        elif (isinstance(obj, Layer) or type(obj).__module__.startswith("engine.")) and hasattr(obj, "__dict__"):
            if id(obj) not in seen:
                seen.add(id(obj))
                for k, v in vars(obj).items():
                    visit(v, f"{path}.{k}")

    for root, obj in (("trainer.rng", trainer.rng), ("model", trainer.model), ("loss", trainer.loss),
                      ("optimizer", trainer.optimizer)):
        visit(obj, root)
    return list(found.values())


def _stateful(callbacks: Iterable) -> dict[str, Any]:
    out = {}
    for cb in callbacks:
        if hasattr(cb, "get_state") and hasattr(cb, "set_state"):
            name = type(cb).__name__
            if name in out:
                raise ValueError(f"two {name} callbacks: their states would share one name")
            out[name] = cb
    return out


def _jsonable(value):
    """A bit generator's state with any arrays (MT19937's key) as lists."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value.item() if isinstance(value, np.generic) else value


def capture_state(trainer, epoch: int, *, callbacks: Sequence = (), final: dict | None = None) -> TrainingState:
    """Copy the trainer's state after `epoch` completed epochs (call it between epochs)."""
    model = trainer.model
    arrays = {"model/" + k: a for k, a in state_arrays(model).items()}
    opt_scalars, opt_arrays = trainer.optimizer.get_state()
    arrays.update(("optimizer/" + k, a) for k, a in opt_arrays.items())
    cb_meta = {}
    for name, cb in _stateful(callbacks).items():
        cb_meta[name], cb_arrays = cb.get_state()
        arrays.update((f"callback/{name}/{k}", a) for k, a in cb_arrays.items())
    meta = {
        "model_config": json.loads(json.dumps(config_to_dict(model.config))) if hasattr(model, "config") else None,
        "model_extra": model.extra_state() if hasattr(model, "extra_state") else None,
        "optimizer": opt_scalars,
        "generators": [{"paths": paths, "state": _jsonable(g.bit_generator.state)}
                       for paths, g in find_generators(trainer)],
        "callbacks": cb_meta,
        "final": {k: float(v) for k, v in (final or {}).items()},  # numpy scalars are not JSON
    }
    return TrainingState(int(epoch), arrays, meta)


def restore_trainer(trainer, state: TrainingState, *, fork: bool = False) -> None:
    """Put the model, optimizer and generators of `state` into the trainer (not its callbacks).

    For a fork, pass the state through `fork_state` first.
    """
    model = trainer.model
    if not fork:
        _check_config(model, state)
    try:
        load_state_arrays(model, state.section("model/"))
    except ValueError as e:
        raise ValueError(f"the checkpoint does not fit this model: {e}") from None
    extra = state.meta.get("model_extra")
    if hasattr(model, "load_extra_state"):
        if extra is None and not fork:
            raise ValueError(f"the checkpoint has no state for {type(model).__name__}'s extra state")
        if extra is not None:
            model.load_extra_state(extra)
    _restore_optimizer(trainer.optimizer, state, fork)
    _restore_generators(trainer, state.meta["generators"], fork)


def restore_callbacks(callbacks: Sequence, state: TrainingState, *, fork: bool = False) -> None:
    """Give stateful callbacks their saved state; a resume needs exactly the same stateful callbacks."""
    saved = state.meta.get("callbacks", {})
    ours = _stateful(callbacks)
    if not fork and ours.keys() != saved.keys():
        raise ValueError(f"the checkpoint has state for callbacks {sorted(saved)}, this run has {sorted(ours)}")
    for name, cb in ours.items():
        if name in saved:
            cb.set_state(saved[name], state.section(f"callback/{name}/"))


def _check_config(model, state: TrainingState) -> None:
    saved = state.meta.get("model_config")
    if saved is None or not hasattr(model, "config"):
        return
    ours = json.loads(json.dumps(config_to_dict(model.config)))  # tuples as lists, as the checkpoint has them
    if saved["type"] != ours["type"]:
        raise ValueError(f"the checkpoint is of a {saved['type']} model, this run builds a {ours['type']}")
    differ = [f"{k} {saved['fields'].get(k)!r} -> {v!r}" for k, v in ours["fields"].items()
              if saved["fields"].get(k) != v]
    if differ:
        raise ValueError(f"the checkpoint's model differs ({'; '.join(differ)}): resume only the same model, "
                         f"or fork")


def _restore_optimizer(optimizer, state: TrainingState, fork: bool) -> None:
    scalars = state.meta["optimizer"]
    if scalars.get("type") != type(optimizer).__name__:
        if fork:
            return  # another optimizer's state means nothing to this one: it starts fresh
        raise ValueError(f"the checkpoint's optimizer is {scalars.get('type')}, this run's is "
                         f"{type(optimizer).__name__}; resume only the same optimizer, or fork")
    optimizer.set_state(scalars, state.section("optimizer/"))


def _restore_generators(trainer, saved: list[dict], fork: bool) -> None:
    targets = find_generators(trainer)
    used = set()
    for paths, gen in targets:
        matches = [i for i, s in enumerate(saved) if set(s["paths"]) & set(paths)]
        if len(matches) > 1:
            raise ValueError(f"one generator here ({', '.join(paths)}) was {len(matches)} in the checkpoint")
        if not matches:
            if fork:
                continue
            raise ValueError(f"the checkpoint has no state for the generator at {', '.join(paths)}")
        used.add(matches[0])
        try:
            gen.bit_generator.state = saved[matches[0]]["state"]
        except (TypeError, ValueError, KeyError) as e:
            raise ValueError(f"generator at {paths[0]}: {e}") from None
    missing = [s["paths"][0] for i, s in enumerate(saved) if i not in used]
    if missing and not fork:
        raise ValueError(f"the checkpoint has generators this run lacks: {', '.join(missing)}")


def fork_state(model, state: TrainingState) -> TrainingState:
    """`state` with its parameter names made `model`'s, for a fork into a model whose parameterless layers
    moved (dropout switched on or off renumbers an MLP's layers): the same parameters in the same order
    and shapes. `state` itself when the names already agree; ValueError when the parameters differ."""
    return _renamed(state, _fork_renames(model, state))


def _fork_renames(model, state: TrainingState) -> dict[str, str]:
    renames = {}
    for kind, ours in (("param", list(model.named_params())), ("buffer", list(model.buffers()))):
        saved = list(state.section(f"model/{kind}/").items())
        if [n for n, _ in saved] == [n for n, _ in ours]:
            continue
        if [a.shape for _, a in saved] != [a.shape for _, a in ours]:
            raise ValueError(f"the checkpoint does not fit this model: its {kind}s "
                             f"{[(n, a.shape) for n, a in saved]} differ from {[(n, a.shape) for n, a in ours]}")
        renames.update((old, new) for (old, _), (new, _) in zip(saved, ours, strict=True) if old != new)
    return renames


def _renamed(state: TrainingState, renames: dict[str, str]) -> TrainingState:
    """`state` with every dotted name in `renames` replaced, in array keys and Adam's step counts."""
    if not renames:
        return state

    def key(k: str) -> str:
        return "/".join(renames.get(part, part) for part in k.split("/"))

    meta = dict(state.meta)
    opt = dict(meta["optimizer"])
    if "t" in opt:
        opt["t"] = {renames.get(n, n): t for n, t in opt["t"].items()}
    meta["optimizer"] = opt
    return TrainingState(state.epoch, {key(k): a for k, a in state.arrays.items()}, meta)
