"""Verbs that read the store. They return dataclasses and plain dicts, never ORM objects.

Listings read runs, params, tags and metric_summary only; the metrics table is read for grouped
statistics and for histories of runs without packed series (metric_series), always through its
(run_id, key, step) primary key.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import groupby
from operator import itemgetter

import numpy as np
from sqlalchemy import BigInteger, Engine, and_, case, exists, func, literal, or_, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import aliased

from .db import read_tx
from .models import Experiment, Metric, MetricSummary, Param, Run, RunTag, utcnow
from .series import read_packed
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
    worker: str = ""
    summary: dict[str, dict] = field(default_factory=dict)
    spec: dict = field(default_factory=dict)
    threads: int | None = None
    parent_run_id: int | None = None
    fork_epoch: int | None = None

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


def _filters(*, status=None, params=None, tag=None, search=None, experiment=None, run_ids=None,
             worker=None) -> list:
    """WHERE conditions on runs (joined with experiments) for the list_runs filters."""
    where = []
    if status is not None:
        where.append(Run.status.in_(_as_list(status)))
    if worker is not None:
        where.append(Run.worker.in_(_as_list(worker)))
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


def _parse_metric_sort(sort: str) -> tuple[str, str]:
    """'metric:<key>:best|last' (or 'metric:<key>', best) -> (key, 'best' | 'last')."""
    rest = sort[len("metric:"):]
    key, _, which = rest.rpartition(":")
    if which not in ("best", "last"):
        key, which = rest, "best"
    if not key:
        raise ValueError(f"sort {sort!r}: expected 'metric:<key>:best' or 'metric:<key>:last'")
    return key, which


def _param_order(stmt, name: str, descending: bool):
    """Order by a hyperparameter's value (numbers as numbers, then text), runs without it last."""
    p = aliased(Param)
    stmt = stmt.outerjoin(p, and_(p.run_id == Run.id, p.name == name))
    keys = (p.value_num, p.value_text)
    order = [(k.desc() if descending else k.asc()).nulls_last() for k in keys]
    return stmt.order_by(*order, Run.id.desc() if descending else Run.id.asc())


def _column_order(stmt, sort: str, descending: bool):
    """Order by a runs column, 'experiment' or 'param:<name>', NULLs last, ties by id."""
    if sort.startswith("param:"):
        return _param_order(stmt, sort[len("param:"):], descending)
    if sort == "experiment":
        col = Experiment.name
    elif sort in SORTABLE_COLUMNS:
        col = Run.__table__.c[sort]
    else:
        raise ValueError(f"cannot sort by {sort!r}; use a runs column, 'metric:<key>:best|last' or 'param:<name>'")
    order = col.desc() if descending else col.asc()
    if col.nullable:  # NOT NULL columns keep a plain ORDER BY, which an index can serve
        order = order.nulls_last()
    return stmt.order_by(order, Run.id.desc() if descending else Run.id.asc())


def _rows_by_metric(conn, base, key: str, which: str, descending: bool, limit: int | None, offset: int) -> list:
    """Runs ordered by a metric's best/last value, then the runs without a value (by id).

    Two queries rather than one LEFT JOIN with NULLS LAST, so the first can walk the
    (key, best_value) index and stop after `limit` rows instead of sorting every run.
    """
    ms = aliased(MetricSummary)
    col = ms.best_value if which == "best" else ms.last_value
    has_value = and_(ms.run_id == Run.id, ms.key == key, col.is_not(None))
    tie = Run.id.desc() if descending else Run.id.asc()
    with_value = base.join(ms, has_value)
    stmt = with_value.order_by(col.desc() if descending else col.asc(), tie).offset(offset)
    rows = conn.execute(stmt if limit is None else stmt.limit(limit)).all()
    if limit is not None and len(rows) == limit:
        return rows
    if rows or offset == 0:
        n_with_value = offset + len(rows)
    else:
        n_with_value = conn.scalar(select(func.count()).select_from(with_value.subquery()))
    ms2 = aliased(MetricSummary)
    col2 = ms2.best_value if which == "best" else ms2.last_value
    without = base.where(~exists().where(ms2.run_id == Run.id, ms2.key == key, col2.is_not(None)))
    stmt = without.order_by(tie).offset(max(0, offset - n_with_value))
    if limit is not None:
        stmt = stmt.limit(limit - len(rows))
    return rows + conn.execute(stmt).all()


_ROW_FIELDS = tuple(f for f in RunRow.__dataclass_fields__ if f not in ("params", "tags", "summary", "spec"))


def _plain_rows(conn, stmt) -> list[tuple]:
    """Rows straight from the DBAPI cursor, for columns that need no type conversion (ints, floats, text).

    Skipping SQLAlchemy's per-row Row objects matters for the long reads (histories, listings)."""
    result = conn.execute(stmt)
    try:
        return result.cursor.fetchall()
    finally:
        result.close()


def _run_rows(conn, rows: Sequence, *, with_spec: bool = False) -> list[RunRow]:
    """RunRows for selected runs rows, with their params, tags and metric summaries (three queries)."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    params: dict[int, dict] = {i: {} for i in ids}
    for run_id, name, text, vtype in _plain_rows(conn, select(
            Param.run_id, Param.name, Param.value_text, Param.value_type).where(Param.run_id.in_(ids))):
        params[run_id][name] = decode_param(text, vtype)
    tags: dict[int, list] = {i: [] for i in ids}
    for run_id, tag in _plain_rows(conn, select(RunTag.run_id, RunTag.tag).where(RunTag.run_id.in_(ids))
                                   .order_by(RunTag.run_id, RunTag.tag)):
        tags[run_id].append(tag)
    summary: dict[int, dict] = {i: {} for i in ids}
    ms = MetricSummary.__table__.c
    for run_id, key, last, last_step, last_flag, best, best_step, nonfinite in _plain_rows(conn, select(
            ms.run_id, ms.key, ms.last_value, ms.last_step, ms.last_flag, ms.best_value, ms.best_step,
            ms.nonfinite_count).where(ms.run_id.in_(ids)).order_by(ms.run_id, ms.key)):
        summary[run_id][key] = {"last": last if last_flag == 0 else decode_metric(last, last_flag),
                                "last_step": last_step, "best": best, "best_step": best_step, "nonfinite": nonfinite}
    out = []
    for r in rows:
        m = r._mapping
        values = {k: m[k] for k in _ROW_FIELDS}
        values["diverged"], values["cancel_requested"] = bool(values["diverged"]), bool(values["cancel_requested"])
        spec = json.loads(m["spec"]) if with_spec and m["spec"] else {}
        out.append(RunRow(**values, params=params[r.id], tags=tags[r.id], summary=summary[r.id], spec=spec))
    return out


def list_runs(engine: Engine, *, status=None, params: Mapping[str, object] | None = None, tag=None,
              search: str | None = None, experiment=None, run_ids: Iterable[int] | None = None,
              sort: str = "created_at", descending: bool = True, limit: int | None = 100, offset: int = 0,
              reap: bool = True) -> list[RunRow]:
    """Runs matching every given filter, sorted and paged.

    sort: a runs column, 'experiment', 'metric:<key>:best|last' or 'param:<name>'.
    status/tag/experiment take one value or a list; params maps a name to a value (or list of values);
    search is a case-insensitive substring of name, notes, tags, model, dataset or experiment
    (SQLite folds case for ASCII letters only; PostgreSQL for all).
    With reap=True (default) stale runs whose process is gone are first marked crashed.
    """
    if reap:
        try:
            mark_crashed_runs(engine)
        except OperationalError:  # a full disk or a read-only store: list what is there, unmarked
            pass
    base = select(*_LIST_COLUMNS, Experiment.name.label("experiment")).outerjoin(
        Experiment, Run.experiment_id == Experiment.id)
    base = base.where(*_filters(status=status, params=params, tag=tag, search=search, experiment=experiment,
                                run_ids=run_ids))
    with engine.connect() as conn:  # one read transaction: every query below sees the same snapshot
        if sort.startswith("metric:"):
            key, which = _parse_metric_sort(sort)
            rows = _rows_by_metric(conn, base, key, which, descending, limit, offset)
        else:
            stmt = _column_order(base, sort, descending).offset(offset)
            rows = conn.execute(stmt if limit is None else stmt.limit(limit)).all()
        return _run_rows(conn, rows)


def count_runs(engine: Engine, *, status=None, params=None, tag=None, search=None, experiment=None,
               run_ids=None, worker=None) -> int:
    """How many runs list_runs would return without a limit (`worker`: trained by that worker)."""
    stmt = select(func.count()).select_from(Run).outerjoin(Experiment, Run.experiment_id == Experiment.id)
    stmt = stmt.where(*_filters(status=status, params=params, tag=tag, search=search, experiment=experiment,
                                run_ids=run_ids, worker=worker))
    with engine.connect() as conn:
        return conn.scalar(stmt)


def has_queued_runs(engine: Engine) -> bool:
    """Whether any run waits in the queue (one indexed read: what an idle worker polls)."""
    with engine.connect() as conn:
        return conn.scalar(select(Run.id).where(Run.status == "queued").limit(1)) is not None


def queue_positions(engine: Engine, run_ids: Iterable[int]) -> dict[int, int]:
    """{run id: 1-based place in the queue} for those of `run_ids` that are queued (the order workers
    claim in: oldest first). One query over the queued runs' (status, created_at) index."""
    ids = [int(i) for i in run_ids]
    if not ids:
        return {}
    place = func.row_number().over(order_by=(Run.created_at, Run.id)).label("place")
    queued = select(Run.id, place).where(Run.status == "queued").subquery()
    with engine.connect() as conn:
        return dict(conn.execute(select(queued.c.id, queued.c.place).where(queued.c.id.in_(ids))).all())


def run_progress(engine: Engine, *, run_ids: Iterable[int] = (), active: bool = False,
                 limit: int = 200) -> list[RunRow]:
    """Lean rows for live views: the given runs, plus every queued or running run with `active` (oldest
    first, at most `limit`), with only their last val_accuracy as summary. Two queries."""
    ids = [int(i) for i in run_ids]
    where = []
    if ids:
        where.append(Run.id.in_(ids))
    if active:
        where.append(Run.status.in_(("queued", "running")))
    if not where:
        return []
    stmt = (select(*_LIST_COLUMNS, Experiment.name.label("experiment"))
            .outerjoin(Experiment, Run.experiment_id == Experiment.id)
            .where(or_(*where)).order_by(Run.created_at, Run.id).limit(limit + len(ids)))
    ms = MetricSummary.__table__.c
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        found = [r.id for r in rows]
        acc = dict(conn.execute(select(ms.run_id, ms.last_value).where(
            ms.run_id.in_(found), ms.key == "val_accuracy")).all()) if found else {}
    out = []
    for r in rows:
        values = {k: r._mapping[k] for k in _ROW_FIELDS}
        values["diverged"], values["cancel_requested"] = bool(values["diverged"]), bool(values["cancel_requested"])
        summary = {"val_accuracy": {"last": acc[r.id]}} if acc.get(r.id) is not None else {}
        out.append(RunRow(**values, summary=summary))
    return out


def typical_epoch_seconds(engine: Engine, model: str, dataset: str) -> float | None:
    """Median wall seconds per epoch of the last 50 completed runs of `model` on `dataset` (start to end,
    so it includes evaluation and recording); None when there are none."""
    stmt = (select(Run.started_at, Run.ended_at, Run.epochs_done)
            .where(Run.status == "completed", Run.model == model, Run.dataset == dataset, Run.epochs_done > 0,
                   Run.started_at.is_not(None), Run.ended_at.is_not(None))
            .order_by(Run.id.desc()).limit(50))
    with engine.connect() as conn:
        per_epoch = sorted((e - s).total_seconds() / n for s, e, n in conn.execute(stmt).all())
    return per_epoch[len(per_epoch) // 2] if per_epoch else None


def experiment_exists(engine: Engine, name: str) -> bool:
    """Whether an experiment of that name exists."""
    with engine.connect() as conn:
        return conn.scalar(select(Experiment.id).where(Experiment.name == name)) is not None


def run_statuses(engine: Engine, run_ids: list[int]) -> dict[int, str]:
    """{run id: status} for the given runs (a sweep's progress)."""
    if not run_ids:
        return {}
    with engine.connect() as conn:
        return dict(conn.execute(select(Run.id, Run.status).where(Run.id.in_(run_ids))).all())


def get_run(engine: Engine, run_id: int) -> RunRow | None:
    """One run with its spec, params, tags and summary; None if there is no such run."""
    stmt = select(Run.__table__, Experiment.name.label("experiment")).outerjoin(
        Experiment, Run.experiment_id == Experiment.id).where(Run.id == run_id)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        found = _run_rows(conn, rows, with_spec=True)
    return found[0] if found else None


# --- metric histories ----------------------------------------------------------------------------

# One integer column carries a point's step and flag: step + flag * 2**33 (|step| < 2**31), so the
# finite points (flag 0) come back as (step, value) tuples that are already what the caller gets.
_FLAG_SHIFT = 1 << 33


def get_metric_histories(engine: Engine, run_ids: Iterable[int], keys: Iterable[str] | None = None
                         ) -> dict[int, dict[str, list[tuple[int, float]]]]:
    """{run_id: {key: [(step, value), ...]}} for many runs; NaN and ±inf restored; keys in key order.

    Finished runs come from their packed series (one row per series, series.py), one query for all.
    The runs without any (running, or ended before packed series existed) come from the metrics table
    in one more query: the points ordered by (run_id, key, step) as bare (step, value) tuples, the series
    boundaries from metric_summary (one row per series, with its last = highest step), so no Python
    work is done per point.
    """
    ids = [int(i) for i in run_ids]
    out: dict[int, dict[str, list]] = {i: {} for i in ids}
    if not ids:
        return out
    keys = None if keys is None else list(keys)
    with read_tx(engine) as conn:
        packed = read_packed(conn, ids, keys, out)
        rest = [i for i in ids if i not in packed]
        if rest:
            _histories_from_metrics(conn, rest, keys, out)
    return out


def _histories_from_metrics(conn, ids: list[int], keys: list[str] | None, out: dict) -> None:
    """get_metric_histories from the long-form metrics table, cut into series by metric_summary."""
    ms, m = MetricSummary.__table__.c, Metric.__table__.c
    series = select(ms.run_id, ms.key, ms.last_step).where(ms.run_id.in_(ids)).order_by(ms.run_id, ms.key)
    code = m.step + m.flag * literal(_FLAG_SHIFT, BigInteger)
    points = select(code, m.value).where(m.run_id.in_(ids)).order_by(m.run_id, m.key, m.step)
    if keys is not None:
        series, points = series.where(ms.key.in_(keys)), points.where(m.key.in_(keys))
    # One snapshot for both on SQLite; PostgreSQL (read committed) may see a write in between: the fallback.
    bounds = _plain_rows(conn, series)
    rows = _plain_rows(conn, points)
    if not _split_series(bounds, rows, out):  # the summary did not describe the points: slow, exact path
        for i in ids:
            out[i] = {}
        _histories_from_points(conn, ids, keys, out)


def _split_series(bounds: Sequence[tuple], rows: list, out: dict) -> bool:
    """Cut `rows` ((step code, value), ordered by run_id, key, step) into the series listed in `bounds`
    ((run_id, key, last_step), same order). Steps increase within a series, so a series ends at the
    first row whose step is its last_step. False when bounds and rows disagree."""
    codes = np.fromiter(map(itemgetter(0), rows), dtype=np.int64, count=len(rows))
    flags = (codes + (_FLAG_SHIFT >> 1)) // _FLAG_SHIFT
    steps = codes - flags * _FLAG_SHIFT
    for i in np.flatnonzero(flags).tolist():  # NaN/±inf (NULL in the table): restore from the flag
        rows[i] = (int(steps[i]), decode_metric(None, int(flags[i])))
    # Usually each series restarts below where the previous one ended: then the ends are where the step
    # stops increasing. Otherwise (a series starting above the previous one's end) walk the series.
    ends = np.append(np.flatnonzero(steps[1:] <= steps[:-1]), len(rows) - 1) if rows else np.array([], np.int64)
    lasts = np.fromiter((b[2] for b in bounds), dtype=np.int64, count=len(bounds))
    if len(ends) != len(bounds) or not np.array_equal(steps[ends], lasts):
        ends = _series_ends(steps, lasts)
        if ends is None:
            return False
    start = 0
    for (run_id, key, _), end in zip(bounds, ends.tolist(), strict=True):
        out[run_id][key] = rows[start:end + 1]
        start = end + 1
    return True


def _series_ends(steps: np.ndarray, lasts: np.ndarray) -> np.ndarray | None:
    """Index of each series' last row: the first row, from the series' start, whose step is its last step."""
    ends, start, n = [], 0, len(steps)
    for last in lasts.tolist():
        if start >= n or steps[start] > last:
            return None
        window = steps[start:start + int(last - steps[start]) + 1]  # a series has at most this many points
        end = start + int(np.argmax(window == last))
        if steps[end] != last:
            return None
        ends.append(end)
        start = end + 1
    return np.array(ends, dtype=np.int64) if start == n else None


def _histories_from_points(conn, ids: list[int], keys: list[str] | None, out: dict) -> None:
    """get_metric_histories without the summary: every column of every point, grouped in Python."""
    m = Metric.__table__.c
    stmt = select(m.run_id, m.key, m.step, m.value, m.flag).where(m.run_id.in_(ids))
    if keys is not None:
        stmt = stmt.where(m.key.in_(keys))
    for (run_id, key), group in groupby(_plain_rows(conn, stmt.order_by(m.run_id, m.key, m.step)),
                                        key=itemgetter(0, 1)):
        out[run_id][key] = [(step, value) if flag == 0 else (step, decode_metric(value, flag))
                            for _, _, step, value, flag in group]


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
    (numbers numerically) then step. `count` is the number of finite values; NaN/±inf values are
    excluded from mean and std and counted in `nonfinite`. A run without a grouping param falls in the
    group where it is None.
    """
    # Step 1 (small): each run that logged `key` gets an integer group id from its param values.
    ms = MetricSummary.__table__
    joins = [aliased(Param.__table__, name=f"p{i}") for i in range(len(group_by))]
    described, order = [], []
    for i, p in enumerate(joins):
        described += [p.c.value_text.label(f"t{i}"), p.c.value_type.label(f"y{i}")]
        order += [p.c.value_num.asc().nulls_first(), p.c.value_text.asc().nulls_first()]
    gid = func.dense_rank().over(order_by=order) if order else literal(1)
    runs = select(ms.c.run_id, gid.label("gid"), *described).select_from(ms)
    for p, name in zip(joins, group_by, strict=True):
        runs = runs.outerjoin(p, and_(p.c.run_id == ms.c.run_id, p.c.name == name))
    runs = runs.where(ms.c.key == key)
    if run_ids is not None:
        runs = runs.where(ms.c.run_id.in_([int(i) for i in run_ids]))
    if experiment is not None:
        runs = runs.where(ms.c.run_id.in_(
            select(Run.id).join(Experiment, Run.experiment_id == Experiment.id).where(Experiment.name == experiment)))
    g = runs.cte("g")
    # Step 2 (large): aggregate the metric rows by (group id, step), integers only, via the primary key.
    m = Metric.__table__.c
    agg = (select(g.c.gid, m.step, func.avg(m.value).label("mean"), func.sum(m.value * m.value).label("sumsq"),
                  func.count(m.value).label("n"), func.sum(case((m.flag != 0, 1), else_=0)).label("nonfinite"))
           .select_from(g.join(Metric.__table__, and_(m.run_id == g.c.run_id, m.key == key)))
           .group_by(g.c.gid, m.step).cte("agg"))
    groups = select(g.c.gid, *[g.c[f"{c}{i}"] for i in range(len(group_by)) for c in "ty"]).distinct().subquery("d")
    stmt = (select(agg, *[groups.c[f"{c}{i}"] for i in range(len(group_by)) for c in "ty"])
            .join(groups, groups.c.gid == agg.c.gid).order_by(agg.c.gid, agg.c.step))
    out = []
    with engine.connect() as conn:
        for row in conn.execute(stmt):
            _, step, mean, sumsq, n, nonfinite, *desc = row
            group = {name: decode_param(desc[2 * i], desc[2 * i + 1]) for i, name in enumerate(group_by)}
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


def list_param_variety(engine: Engine) -> dict[str, int]:
    """Every param name used by any run -> how many distinct values it takes across runs, by name."""
    stmt = select(Param.name, func.count(Param.value_text.distinct())).group_by(Param.name).order_by(Param.name)
    with engine.connect() as conn:
        return {name: n for name, n in conn.execute(stmt)}


def list_metric_keys(engine: Engine) -> list[str]:
    """Every metric key logged by any run, sorted (read from metric_summary, not metrics)."""
    with engine.connect() as conn:
        return list(conn.scalars(select(MetricSummary.key).distinct().order_by(MetricSummary.key)))


def list_tags(engine: Engine) -> list[dict]:
    """[{"tag", "runs"}] for every tag in use, sorted by tag."""
    stmt = select(RunTag.tag, func.count().label("runs")).group_by(RunTag.tag).order_by(RunTag.tag)
    with engine.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(stmt)]
