"""`Inspector`: every snapshot view of one model on its probe batch, as (kind, name, value) records.

Small views come from one instrumented pass over the probe batch (plus the boundary grid for 2-D
data); big views add histograms, the validation confusion matrix, filters, feature maps, full
attention maps, per-unit gates and per-token confidence. Which views a model gets follows from what
it has: conv weights, recurrent layers, attention layers, a 2-D input plane, a classification task.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from .attention import ATTENTION_SEQUENCES, attention_maps, head_entropy, head_offset
from .boundary import GRID_RES, boundary_grid, grid_extent, grid_points
from .classify import confidently_wrong, predict_proba, validation_confusion
from .conv import FEATURE_MAP_IMAGES, feature_map_taps, first_filters
from .hooks import probe_pass
from .params import ParamTable, param_histograms, param_stats
from .probe import Probe, focus_examples, select_probe
from .sequence import (
    GATE_UNIT_SEQUENCES,
    gate_means,
    hidden_norms,
    recurrent_leaves,
    step_probabilities,
    timestep_grad_norms,
    true_class_confidence,
)
from .walk import leaf_layers

# Views taken only at the log-spaced epochs; every other kind is small and taken every epoch.
BIG_KINDS = frozenset({"histograms", "confusion", "filters", "feature_maps", "attention", "gates", "confidence"})


class Snapshot(NamedTuple):
    kind: str
    name: str
    value: object  # np.ndarray or a JSON-able value


def compact(value):
    """JSON-able copy with floats rounded to 5 significant digits and NaN/inf as None."""
    t = type(value)  # exact types first: this runs on every number of every view
    if t is float:
        return float(f"{value:.5g}") if math.isfinite(value) else None
    if t is dict:
        return {k if type(k) is str else str(k): compact(v) for k, v in value.items()}
    if t is list or t is tuple:
        return [compact(v) for v in value]
    if t is int or t is str or t is bool or value is None:
        return value
    if isinstance(value, np.ndarray):
        return compact(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return compact(float(value))
    if isinstance(value, dict):
        return {str(k): compact(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [compact(v) for v in value]
    return value


class Inspector:
    """Computes the snapshot views of `model` (trained with `loss`) on `data`'s probe batch."""

    def __init__(self, model, loss, data, probe: Probe | None = None) -> None:
        self.model, self.loss, self.data = model, loss, data
        self.probe = probe if probe is not None else select_probe(data)
        self.has_grads = not hasattr(model, "train_batch")
        self.classifier = data.task in ("classify", "seq_classify", "seq2seq")
        self.plane = bool(data.meta.get("plane")) and data.input_shape == (2,)
        self.extent = grid_extent(data) if self.plane else None
        self.grid = grid_points(self.extent).astype(np.float32) if self.plane else None  # (GRID_RES**2, 2)
        self.focus = focus_examples(self.probe, ATTENTION_SEQUENCES, data.meta.get("pad_id"))
        self.leaves = leaf_layers(model)
        self.taps = feature_map_taps(model)
        self.recurrent = dict(recurrent_leaves(model))
        self._previous: ParamTable | None = None  # the weights at the last recorded epoch
        self._previous_epoch: int | None = None

    # --- the probe record (once per run) ---------------------------------------------------------
    def probe_record(self) -> list[Snapshot]:
        """Epoch-0 'probe' snapshots: inputs, labels, validation positions and what axes need to be labelled."""
        p, d = self.probe, self.data
        meta = {"dataset": d.name, "task": d.task, "n_classes": d.n_classes,
                "input_shape": list(d.input_shape), "size": len(p), "plane": self.plane,
                "token_names": list(d.meta.get("token_names", []))[:10_000],
                "label_names": list(d.meta.get("label_names", d.meta.get("class_names", []))),
                "pad_id": d.meta.get("pad_id"), "bos_id": d.meta.get("bos_id"), "image_side": d.meta.get("image_side"),
                "extent": self.extent, "grid_res": GRID_RES if self.plane else 0,
                "focus_examples": self.focus}
        return [Snapshot("probe", "meta", compact(meta)), Snapshot("probe", "index", p.index),
                Snapshot("probe", "x", np.asarray(p.x)), Snapshot("probe", "y", np.asarray(p.y))]

    # --- views at an epoch -------------------------------------------------------------------------
    def compute(self, epoch: int, *, big: bool) -> list[Snapshot]:
        """Small views (and big ones when `big`) of the model as it is now."""
        p, m = self.probe, self.model
        first_rnn = list(self.recurrent)[:1]
        pp = probe_pass(m, self.loss, p.x, p.y, backward=self.has_grads,
                        capture=tuple(tap for _, tap in self.taps) if big else (),
                        capture_n=FEATURE_MAP_IMAGES, input_grads=tuple(first_rnn), leaves=self.leaves)
        out: list[Snapshot] = []
        # Read everything the forward pass left on the model before another forward overwrites it.
        out += self._attention_views(big)
        out += self._sequence_views(pp, big)  # may run prefix forwards: after the attention maps
        table = ParamTable(m, with_grads=pp.backward_ran)
        proba = predict_proba(self.loss, pp.outputs) if self.classifier else None
        out += self._stats(epoch, pp, table, proba)
        if big:  # histograms are built compact (see params.param_histograms)
            out.append(Snapshot("histograms", "params", param_histograms(table)))
        if self.classifier:
            out.append(Snapshot("wrong", "probe", compact(confidently_wrong(proba, p.y, p.index))))
            if big:
                cm = validation_confusion(m, self.loss, self.data)
                if cm is not None:
                    out.append(Snapshot("confusion", "val", cm.astype(np.int32)))
        if self.plane:
            out.append(Snapshot("boundary", "proba", boundary_grid(m, self.loss, self.grid)))
        if big:
            out += self._conv_views(pp)
        return out

    def _stats(self, epoch: int, pp, table: ParamTable, proba: np.ndarray | None) -> list[Snapshot]:
        rows = param_stats(table, self._previous)  # built compact
        since = self._previous_epoch
        self._previous, self._previous_epoch = table, epoch
        layers = [leaf.summary() for leaf in pp.leaves]
        probe = {"loss": pp.loss}
        if proba is not None:
            probe["accuracy"] = float(np.mean(proba.argmax(axis=-1) == self.probe.y))
        return [Snapshot("stats", "params", {"since_epoch": since, "rows": rows}),
                Snapshot("stats", "layers", compact(layers)),
                Snapshot("stats", "probe", compact(probe))]

    def _conv_views(self, pp) -> list[Snapshot]:
        out = []
        first = first_filters(self.model)
        if first is not None:
            out.append(Snapshot("filters", first[0], np.array(first[1], copy=True)))
        captured = {leaf.name: leaf.captured for leaf in pp.leaves if leaf.captured is not None}
        for conv, tap in self.taps:
            if tap in captured:
                out.append(Snapshot("feature_maps", conv, captured[tap]))
        return out

    def _sequence_views(self, pp, big: bool) -> list[Snapshot]:
        out = []
        grads = {leaf.name: leaf.input_grads for leaf in pp.leaves if leaf.input_grads}
        for name, layer in self.recurrent.items():
            view = {"hidden_norm": hidden_norms(layer.last_hidden_states), "gates": gate_means(layer.last_gates)}
            if name in grads:
                view["input_grad"] = timestep_grad_norms(grads[name][0])
            out.append(Snapshot("recurrent", name, compact(view)))
            if big:
                for gate, values in layer.last_gates.items():
                    keep = self.focus[:GATE_UNIT_SEQUENCES]
                    out.append(Snapshot("gates", f"{name}.{gate}", np.array(values[keep])))
        if big and self.data.task in ("seq_classify", "seq2seq") and pp.outputs.ndim in (2, 3):
            proba = step_probabilities(self.model, self.loss, self.probe.x, self.probe.y, pp.outputs)
            if proba is not None:
                out.append(Snapshot("confidence", "p_true", true_class_confidence(proba, self.probe.y)))
                out.append(Snapshot("confidence", "p_max", proba.max(axis=-1)))
        return out

    def _attention_views(self, big: bool) -> list[Snapshot]:
        maps = attention_maps(self.model, self.leaves)
        if not maps:
            return []
        out = [Snapshot("attention_heads", "stats", compact({
            "entropy": [head_entropy(w) for w in maps], "offset": [head_offset(w) for w in maps],
            "heads": [int(w.shape[1]) for w in maps]}))]
        if big:
            for i, w in enumerate(maps):
                out.append(Snapshot("attention", f"layer.{i}", np.array(w[self.focus])))
        return out
