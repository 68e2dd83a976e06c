"""Verbs that read the store. They return dataclasses and plain dicts, never ORM objects.

Listings read runs, params, tags and metric_summary only; the metrics table is read for histories
and grouped statistics, always through its (run_id, key, step) primary key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from .models import Experiment, Metric, MetricSummary, Param, Run, RunTag, utcnow
from .values import decode_metric, decode_param
from .writes import mark_crashed_runs


@dataclass
class RunRow:
    """One run as the dashboard and CLI see it."""

    id: int
    name: str
    status: str
    experiment: str | None
    created_at: datetime
    started_at: datetime | None = None
    ended_at: datetime | None = None
    heartbeat_at: datetime | None = None
    seed: int = 0
    model: str = ""
    dataset: str = ""
    params: dict = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)
    notes: str = ""
    error: str | None = None
    diverged: bool = False
    cancel_requested: bool = False
    epochs_done: int = 0
    epochs_planned: int = 0
    num_params: int | None = None
    engine_version: str = ""
    pid: int | None = None
    host: str = ""
    summary: dict[str, dict] = field(default_factory=dict)
    spec: dict = field(default_factory=dict)

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end (or to now while running); None if it never started."""
        if self.started_at is None:
            return None
        return ((self.ended_at or utcnow()) - self.started_at).total_seconds()


_LIST_COLUMNS = [c for c in Run.__table__.c if c.name != "spec"]
SORTABLE_COLUMNS = frozenset(c.name for c in Run.__table__.c if c.name != "spec") | {"experiment"}


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple, set, frozenset)) else [value]


def _param_matches(value):
    """A condition on a params row: numbers compare as numbers (3 == 3.0), the rest as text."""
    if isinstance(value, (list, tuple, set, frozenset)):
        return or_(*[_param_matches(v) for v in value])
    if value is None:
        return Param.value_type == "null"
    if isinstance(value, bool):
        return Param.value_text == ("true" if value else "false")
    if isinstance(value, (int, float)) and math.isfinite(value):
        return Param.value_num == float(value)
    text = str(value)
    try:
        number = float(text)
    except ValueError:
        return Param.value_text == text
    if math.isfinite(number):
        return or_(Param.value_text == text, Param.value_num == number)
    return Param.value_text == text


def _filters(*, status=None, params=None, tag=None, search=None, experiment=None, run_ids=None) -> list:
    """WHERE conditions on runs (joined with experiments) for the list_runs filters."""
    where = []
    if status is not None:
        where.append(Run.status.in_(_as_list(status)))
    for name, value in (params or {}).items():
        where.append(exists().where(Param.run_id == Run.id, Param.name == name, _param_matches(value)))
    if tag is not None:
        for t in _as_list(tag):
            where.append(exists().where(RunTag.run_id == Run.id, RunTag.tag == t))
    if experiment is not None:
        where.append(Experiment.name.in_(_as_list(experiment)))
    if run_ids is not None:
        where.append(Run.id.in_([int(i) for i in run_ids]))
    if search:
        text = str(search).strip()
        where.append(or_(Run.name.icontains(text, autoescape=True), Run.notes.icontains(text, autoescape=True),
                         Run.model.icontains(text, autoescape=True), Run.dataset.icontains(text, autoescape=True),
                         Experiment.name.icontains(text, autoescape=True),
                         exists().where(RunTag.run_id == Run.id, RunTag.tag.icontains(text, autoescape=True))))
    return where


def _order_by(stmt, sort: str, descending: bool):
    """Order by a runs column, 'experiment', or 'metric:<key>:best|last' (runs without the metric last)."""
    if sort.startswith("metric:"):
        rest = sort[len("metric:"):]
        key, _, which = rest.rpartition(":")
        if which not in ("best", "last"):
            key, which = rest, "best"
        if not key:
            raise ValueError(f"sort {sort!r}: expected 'metric:<key>:best' or 'metric:<key>:last'")
        ms = aliased(MetricSummary)
        stmt = stmt.outerjoin(ms, and_(ms.run_id == Run.id, ms.key == key))
        col = ms.best_value if which == "best" else ms.last_value
    elif sort == "experiment":
        col = Experiment.name
    elif sort in SORTABLE_COLUMNS:
        col = Run.__table__.c[sort]
    else:
        raise ValueError(f"cannot sort by {sort!r}; use a runs column or 'metric:<key>:best|last'")
    order = col.desc() if descending else col.asc()
    tie = Run.id.desc() if descending else Run.id.asc()
    return stmt.order_by(order.nulls_last(), tie)


def _run_rows(conn, rows: Sequence, *, with_spec: bool = False) -> list[RunRow]:
    """RunRows for selected runs rows, with their params, tags and metric summaries (three queries)."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    params: dict[int, dict] = {i: {} for i in ids}
    for run_id, name, text, vtype in conn.execute(
            select(Param.run_id, Param.name, Param.value_text, Param.value_type).where(Param.run_id.in_(ids))):
        params[run_id][name] = decode_param(text, vtype)
    tags: dict[int, list] = {i: [] for i in ids}
    for run_id, tag in conn.execute(select(RunTag.run_id, RunTag.tag).where(RunTag.run_id.in_(ids))
                                    .order_by(RunTag.run_id, RunTag.tag)):
        tags[run_id].append(tag)
    summary: dict[int, dict] = {i: {} for i in ids}
    for s in conn.execute(select(MetricSummary.__table__).where(MetricSummary.run_id.in_(ids))
                          .order_by(MetricSummary.run_id, MetricSummary.key)).mappings():
        summary[s["run_id"]][s["key"]] = {
            "last": decode_metric(s["last_value"], s["last_flag"]), "last_step": s["last_step"],
            "best": s["best_value"], "best_step": s["best_step"], "nonfinite": s["nonfinite_count"]}
    out = []
    for r in rows:
        m = r._mapping
        values = {k: m[k] for k in RunRow.__dataclass_fields__ if k in m and k not in ("params", "tags", "summary", "spec")}
        values["diverged"], values["cancel_requested"] = bool(m["diverged"]), bool(m["cancel_requested"])
        spec = json.loads(m["spec"]) if with_spec and m.get("spec") else {}
        out.append(RunRow(**values, params=params[r.id], tags=tags[r.id], summary=summary[r.id], spec=spec))
    return out


def list_runs(engine: Engine, *, status=None, params: Mapping[str, object] | None = None, tag=None,
              search: str | None = None, experiment=None, run_ids: Iterable[int] | None = None,
              sort: str = "created_at", descending: bool = True, limit: int | None = 100, offset: int = 0,
              reap: bool = True) -> list[RunRow]:
    """Runs matching every given filter, sorted and paged.

    status/tag/experiment take one value or a list; params maps a name to a value (or list of values);
    search is a case-insensitive substring of name, notes, tags, model, dataset or experiment.
    With reap=True (default) stale runs whose process is gone are first marked crashed.
    """
    if reap:
        mark_crashed_runs(engine)
    stmt = select(*_LIST_COLUMNS, Experiment.name.label("experiment")).outerjoin(
        Experiment, Run.experiment_id == Experiment.id)
    stmt = stmt.where(*_filters(status=status, params=params, tag=tag, search=search, experiment=experiment,
                                run_ids=run_ids))
    stmt = _order_by(stmt, sort, descending).offset(offset)
    if limit is not None:
        stmt = stmt.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        return _run_rows(conn, rows)


def count_runs(engine: Engine, *, status=None, params=None, tag=None, search=None, experiment=None,
               run_ids=None) -> int:
    """How many runs list_runs would return without a limit."""
    stmt = select(func.count()).select_from(Run).outerjoin(Experiment, Run.experiment_id == Experiment.id)
    stmt = stmt.where(*_filters(status=status, params=params, tag=tag, search=search, experiment=experiment,
                                run_ids=run_ids))
    with engine.connect() as conn:
        return conn.scalar(stmt)


def get_run(engine: Engine, run_id: int) -> RunRow | None:
    """One run with its spec, params, tags and summary; None if there is no such run."""
    stmt = select(Run.__table__, Experiment.name.label("experiment")).outerjoin(
        Experiment, Run.experiment_id == Experiment.id).where(Run.id == run_id)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        found = _run_rows(conn, rows, with_spec=True)
    return found[0] if found else None


# --- metric histories ----------------------------------------------------------------------------

def get_metric_histories(engine: Engine, run_ids: Iterable[int], keys: Iterable[str] | None = None
                         ) -> dict[int, dict[str, list[tuple[int, float]]]]:
    """{run_id: {key: [(step, value), ...]}} for many runs in one query; NaN and ±inf restored."""
    ids = [int(i) for i in run_ids]
    out: dict[int, dict[str, list]] = {i: {} for i in ids}
    if not ids:
        return out
    m = Metric.__table__.c
    stmt = select(m.run_id, m.key, m.step, m.value, m.flag).where(m.run_id.in_(ids))
    if keys is not None:
        stmt = stmt.where(m.key.in_(list(keys)))
    stmt = stmt.order_by(m.run_id, m.key, m.step)
    with engine.connect() as conn:
        current_run, current_key, points = None, None, None
        for run_id, key, step, value, flag in conn.execute(stmt):
            if run_id != current_run or key != current_key:
                current_run, current_key = run_id, key
                points = out[run_id].setdefault(key, [])
            points.append((step, value if flag == 0 else decode_metric(value, flag)))
    return out


def get_metric_history(engine: Engine, run_id: int, keys: Iterable[str] | None = None
                       ) -> dict[str, list[tuple[int, float]]]:
    """{key: [(step, value), ...]} for one run, ordered by step; NaN and ±inf restored."""
    return get_metric_histories(engine, [run_id], keys)[int(run_id)]


def get_params_table(engine: Engine, run_ids: Iterable[int]) -> dict[int, dict[str, object]]:
    """{run_id: {param: value}} for the given runs."""
    ids = [int(i) for i in run_ids]
    out: dict[int, dict] = {i: {} for i in ids}
    if ids:
        with engine.connect() as conn:
            for run_id, name, text, vtype in conn.execute(
                    select(Param.run_id, Param.name, Param.value_text, Param.value_type)
                    .where(Param.run_id.in_(ids))):
                out[run_id][name] = decode_param(text, vtype)
    return out


# --- grouped statistics ----------------------------------------------------------------------------

def grouped_metric_stats(engine: Engine, key: str, group_by: Sequence[str], *, run_ids: Iterable[int] | None = None,
                         experiment: str | None = None) -> list[dict]:
    """Mean and sample std of a metric per (group of param values, step), aggregated in SQL.

    Returns [{"group": {param: value}, "step", "mean", "std", "count", "nonfinite"}] ordered by group
    then step. `count` is the number of finite values; NaN/±inf values are excluded from mean and std
    and counted in `nonfinite`. A run without a grouping param falls in the group where it is None.
    """
    m = Metric.__table__.c
    joins = [aliased(Param.__table__, name=f"p{i}") for i in range(len(group_by))]
    group_cols, order = [], []
    for p in joins:
        group_cols += [p.c.value_text, p.c.value_type, p.c.value_num]
        order += [p.c.value_num.asc().nulls_first(), p.c.value_text.asc().nulls_first()]  # numbers numerically
    finite = func.count(m.value)
    stmt = select(*group_cols, m.step, func.avg(m.value), func.sum(m.value * m.value), finite,
                  func.sum(case((m.flag != 0, 1), else_=0))).select_from(Metric.__table__)
    for p, name in zip(joins, group_by):
        stmt = stmt.outerjoin(p, and_(p.c.run_id == m.run_id, p.c.name == name))
    # Restricting run ids through metric_summary lets the database walk the (run_id, key, step) key.
    runs_with_key = select(MetricSummary.run_id).where(MetricSummary.key == key)
    if run_ids is not None:
        runs_with_key = runs_with_key.where(MetricSummary.run_id.in_([int(i) for i in run_ids]))
    if experiment is not None:
        runs_with_key = runs_with_key.where(MetricSummary.run_id.in_(
            select(Run.id).join(Experiment, Run.experiment_id == Experiment.id).where(Experiment.name == experiment)))
    stmt = stmt.where(m.key == key, m.run_id.in_(runs_with_key))
    stmt = stmt.group_by(*group_cols, m.step).order_by(*order, m.step)
    out = []
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            *groups, step, mean, sumsq, n, nonfinite = row
            group = {name: decode_param(groups[3 * i], groups[3 * i + 1]) for i, name in enumerate(group_by)}
            std = math.sqrt(max(0.0, (sumsq - n * mean * mean) / (n - 1))) if n > 1 else (0.0 if n else None)
            out.append({"group": group, "step": step, "mean": float(mean) if mean is not None else None,
                        "std": std, "count": n, "nonfinite": int(nonfinite or 0)})
    return out


# --- catalogue -----------------------------------------------------------------------------------

def list_experiments(engine: Engine) -> list[dict]:
    """[{"id", "name", "description", "created_at", "runs"}] ordered by name."""
    stmt = (select(Experiment.id, Experiment.name, Experiment.description, Experiment.created_at,
                   func.count(Run.id).label("runs"))
            .outerjoin(Run, Run.experiment_id == Experiment.id)
            .group_by(Experiment.id, Experiment.name, Experiment.description, Experiment.created_at)
            .order_by(Experiment.name))
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]


def list_param_names(engine: Engine) -> list[str]:
    """Every param name used by any run, sorted."""
    with engine.connect() as conn:
        return list(conn.scalars(select(Param.name).distinct().order_by(Param.name)))


def list_metric_keys(engine: Engine) -> list[str]:
    """Every metric key logged by any run, sorted (read from metric_summary, not metrics)."""
    with engine.connect() as conn:
        return list(conn.scalars(select(MetricSummary.key).distinct().order_by(MetricSummary.key)))


def list_tags(engine: Engine) -> list[dict]:
    """[{"tag", "runs"}] for every tag in use, sorted by tag."""
    stmt = select(RunTag.tag, func.count().label("runs")).group_by(RunTag.tag).order_by(RunTag.tag)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
