"""Run a lesson or an ablation: plan the runs (arm x seed), reuse what exists, launch the rest through
the injected `launch`, wait by polling the runs table, and compute the verdict from the stored runs.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import engine
from engine.spec import ExperimentSpec, parse_spec

from .launch import LaunchFn
from .metrics import Metric, evaluate, not_reached, parse_metric
from .stats import Comparison, compare

FINAL = ("completed", "cancelled", "failed", "crashed")
REAP_EVERY_S = 5.0
BOOKKEEPING = ("name", "tags", "experiment")  # knobs that do not make a run different (notes are not in a spec)


def comparable(spec: ExperimentSpec | Mapping[str, Any]) -> str:
    """A spec as canonical JSON without name, tags and experiment: equal text = the same run."""
    d = parse_spec(spec).to_dict() if not isinstance(spec, ExperimentSpec) else spec.to_dict()
    for key in BOOKKEEPING:
        d.pop(key, None)
    return json.dumps(d, sort_keys=True)


@dataclass
class Plan:
    """The runs a lesson or ablation needs: one spec per (arm, seed), in arm order then seed order."""

    experiment: str
    specs: list[ExperimentSpec]
    arms: list[str]           # arm label of each spec
    labels: tuple[str, str]   # (baseline, changed)
    metric: Metric
    expected: str | None = None  # a lesson's claimed direction; None for an ablation
    also: tuple[Metric, ...] = ()  # further metrics, compared without a claimed direction

    @property
    def seeds(self) -> list[int]:
        return sorted({s.seed for s in self.specs})


@dataclass
class Launched:
    """What launching a plan did: the run id of every spec and how many were reused."""

    plan: Plan
    run_ids: list[int]
    reused: int
    new_ids: list[int] = field(default_factory=list)


def lesson_plan(lesson, seeds: int | None = None, **reduce: Any) -> Plan:
    """Both arms of `lesson` on seeds 0..K-1 (`reduce`: knob overrides, e.g. fewer epochs in tests)."""
    k = seeds or lesson.seeds
    specs, arms = [], []
    for arm in lesson.arms:
        for seed in range(k):
            specs.append(lesson.spec(arm, seed, **reduce))
            arms.append(arm.label)
    return Plan(lesson.experiment, specs, arms, (lesson.arms[0].label, lesson.arms[1].label),
                lesson.parsed_metric, lesson.expected, tuple(parse_metric(m) for m in lesson.also))


def find_reusable(db, spec: ExperimentSpec, candidates: Iterable[dict]) -> int | None:
    """The oldest candidate run ({"id", "spec", ...}) with the same spec as `spec`, else None."""
    want = comparable(spec)
    for c in candidates:
        try:
            if comparable(c["spec"]) == want:
                return c["id"]
        except Exception:  # a spec from an older NN Lab that no longer validates: not reusable
            continue
    return None


def existing_runs(db_url: str, plan: Plan) -> list[int | None]:
    """For each spec of the plan, a run with the same spec and engine version (completed, or still queued or
    running) that can be reused, else None. Nothing is written."""
    from storage.db import open_db
    from storage.lessons import reuse_candidates

    db = open_db(db_url)
    ids: list[int | None] = []
    pools: dict[tuple[str, str], list[dict]] = {}
    for spec in plan.specs:
        key = (spec.model, spec.dataset)
        if key not in pools:
            pools[key] = reuse_candidates(db, model=spec.model, dataset=spec.dataset, seeds=plan.seeds,
                                          engine_version=engine.__version__)
        ids.append(find_reusable(db, spec, [c for c in pools[key] if c["seed"] == spec.seed]))
    return ids


def launch_plan(plan: Plan, db_url: str, launch: LaunchFn) -> Launched:
    """Reuse a run with the same spec and engine version for each spec (existing_runs); launch the others
    with `launch` as one experiment; link every run of the plan to the plan's experiment."""
    from storage.db import open_db
    from storage.lessons import link_runs

    ids = existing_runs(db_url, plan)
    missing = [i for i, rid in enumerate(ids) if rid is None]
    new_ids = launch([plan.specs[i] for i in missing], db_url, plan.experiment) if missing else []
    for i, rid in zip(missing, new_ids, strict=True):
        ids[i] = rid
    link_runs(open_db(db_url), plan.experiment, ids)
    return Launched(plan, [int(i) for i in ids], len(plan.specs) - len(missing), list(new_ids))


def progress_of(states: Mapping[int, dict]) -> tuple[int, int, int]:
    """(finished runs, epochs done, epochs planned) over the runs' states."""
    done = sum(1 for s in states.values() if s["status"] in FINAL)
    epochs = sum(s["epochs_planned"] if s["status"] in FINAL else s["epochs_done"] for s in states.values())
    return done, epochs, sum(s["epochs_planned"] for s in states.values())


def wait_for_runs(db_url: str, run_ids: list[int], *, on_progress: Callable[[int, int, int, int], None] | None = None,
                  poll_s: float = 0.5, timeout_s: float | None = None, workers: int | None = None) -> dict[int, dict]:
    """Poll the runs table until every run has a final status; on_progress(done, total, epochs, planned).

    Every REAP_EVERY_S it marks runs whose process died as crashed and, with `workers` (the most runs
    training at once), restarts warm workers while some of the runs are still queued."""
    from storage.db import open_db
    from storage.lessons import run_states
    from storage.writes import mark_crashed_runs

    db = open_db(db_url)
    start = last_reap = time.monotonic()
    while True:
        states = run_states(db, run_ids)
        if time.monotonic() - last_reap > REAP_EVERY_S:  # a run whose process died must not keep us waiting
            mark_crashed_runs(db)
            queued = sum(1 for s in states.values() if s["status"] == "queued")
            if workers and queued:
                from jobs.worker import ensure_workers

                ensure_workers(db_url, workers, wanted=queued)
            last_reap = time.monotonic()
        done, epochs, planned = progress_of(states)
        if on_progress:
            on_progress(done, len(run_ids), epochs, planned)
        if done == len(run_ids) or (timeout_s is not None and time.monotonic() - start > timeout_s):
            return states
        time.sleep(poll_s)


def metric_resolution(metric: Metric, spec: ExperimentSpec) -> float:
    """The smallest step the metric can take: one validation example for accuracies, one epoch for epochs_to."""
    if metric.kind == "epochs_to":
        return 1.0
    accuracy = (metric.kind == "gap" and metric.key == "accuracy") or (
        metric.kind in ("best", "last") and metric.key.endswith("accuracy"))
    if not accuracy:
        return 0.0
    from engine.data import load_dataset

    data = load_dataset(spec)
    y = data.y_test if metric.key.startswith("test_") and data.y_test is not None else data.y_val
    return 1.0 / max(int(y.size), 1)


def first_grad_norms(db, run_id: int) -> list[float] | None:
    """Weight-gradient norms by depth at the first stored 'stats' snapshot (epoch 0: the untrained net)."""
    from storage.snapshots import list_snapshots, read_snapshot

    epochs = [s["epoch"] for s in list_snapshots(db, run_id) if s["kind"] == "stats" and s["name"] == "params"]
    if not epochs:
        return None
    rows = read_snapshot(db, run_id, "stats", "params", min(epochs))["rows"]
    return [r["grad_norm"] for r in rows if r["name"].endswith("W") and len(r["shape"]) >= 2]


@dataclass
class Outcome:
    """A plan's verdict from its stored runs."""

    comparison: Comparison
    not_reached: dict[str, int]     # epochs_to: runs per arm that never reached the target
    statuses: dict[int, str]


def evaluate_all(db_url: str, plan: Plan, run_ids: list[int], *, metric: Metric | None = None) -> list[Outcome]:
    """The plan's main comparison (on `metric`, default the plan's) and then one per `plan.also` metric."""
    main = evaluate_plan(db_url, plan, run_ids, metric=metric)
    return [main] + [evaluate_plan(db_url, plan, run_ids, metric=m, expected=None) for m in plan.also]


def evaluate_plan(db_url: str, plan: Plan, run_ids: list[int], *, metric: Metric | None = None,
                  resolution: float | None = None, expected: str | None = "plan") -> Outcome:
    """The comparison of the plan's two arms on `metric` (default: the plan's), from the completed runs.

    expected: the claimed direction; by default the plan's (None: better/worse, as for an ablation)."""
    from storage import reads
    from storage.db import open_db

    db = open_db(db_url)
    metric = metric or plan.metric
    runs = {r.id: r for r in reads.list_runs(db, run_ids=run_ids, limit=None, reap=False)}
    histories = reads.get_metric_histories(db, [i for i in run_ids if i in runs])
    values: dict[str, dict[int, float | None]] = {plan.labels[0]: {}, plan.labels[1]: {}}
    planned: dict[str, dict[int, int]] = {plan.labels[0]: {}, plan.labels[1]: {}}
    for spec, arm, rid in zip(plan.specs, plan.arms, run_ids, strict=True):
        run = runs.get(rid)
        if run is None or run.status != "completed":
            continue
        grads = first_grad_norms(db, rid) if metric.needs_snapshots else None
        values[arm][spec.seed] = evaluate(metric, histories.get(rid, {}), run.epochs_planned, grads)
        planned[arm][spec.seed] = run.epochs_planned
    if resolution is None:
        resolution = metric_resolution(metric, plan.specs[0])
    a, b = values[plan.labels[0]], values[plan.labels[1]]
    expected = plan.expected if expected == "plan" else expected
    comparison = compare(a, b, metric=metric.text, expected=expected, higher_is_better=metric.higher_is_better,
                         resolution=resolution, share=metric.share)
    missed = {label: not_reached(metric, values[label], planned[label]) for label in plan.labels}
    return Outcome(comparison, missed, {rid: runs[rid].status for rid in run_ids if rid in runs})
