"""Statements compiled once per dialect and run on the DBAPI cursor: the hot path of log_epoch.

SQLAlchemy still writes the SQL (so it is the right SQL for SQLite or PostgreSQL), opens the
connection and owns the transaction; only the per-call execution machinery is skipped. That halves
the CPU cost of logging an epoch, which happens after every epoch of every run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Prepared:
    """SQL text plus how to turn a dict of values into the driver's parameters."""

    sql: str
    order: tuple[str, ...] | None  # positional paramstyles (SQLite '?'): bind names in order
    defaults: Mapping[str, Any]  # values SQLAlchemy bound itself (literals inside the statement)
    processors: Mapping[str, Callable[[Any], Any]]  # type conversions (e.g. datetime -> SQLite text)

    def params(self, values: Mapping[str, Any]):
        """Driver parameters for one execution."""
        if not self.processors and self.order is not None:
            return [values[n] if n in values else self.defaults[n] for n in self.order]
        merged = {**self.defaults, **values}
        for name, proc in self.processors.items():
            value = merged.get(name)
            if value is not None:
                merged[name] = proc(value)
        return merged if self.order is None else [merged[name] for name in self.order]


_CACHE: dict[tuple[str, str], Prepared] = {}


def prepare(conn, name: str, build: Callable[[Any], Any], sample: Mapping[str, Any]) -> Prepared:
    """The statement `build(conn)` compiled for conn's dialect, cached under (dialect, name).

    `sample` holds a value for every bind the caller supplies, so the remaining (literal) binds
    can be resolved into `defaults`.
    """
    key = (conn.dialect.name, name)
    prepared = _CACHE.get(key)
    if prepared is None:
        dialect = conn.dialect
        compiled = build(conn).compile(dialect=dialect)
        resolved = compiled.construct_params(dict(sample))
        defaults = {k: v for k, v in resolved.items() if k not in sample}
        processors = {}
        for bind in compiled.binds.values():
            if bind.key not in sample or isinstance(sample[bind.key], (int, float, str)):
                continue  # callers pass numbers and text as the Python types the drivers take
            proc = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if proc is not None:
                processors[bind.key] = proc
        order = tuple(compiled.positiontup) if compiled.positional else None
        prepared = _CACHE[key] = Prepared(compiled.string, order, defaults, processors)
    return prepared


def execute(conn, prepared: Prepared, values: Mapping[str, Any]) -> int:
    """Run one execution inside conn's current transaction; returns the row count."""
    cursor = conn.connection.cursor()
    try:
        cursor.execute(prepared.sql, prepared.params(values))
        return cursor.rowcount
    finally:
        cursor.close()


def execute_many(conn, prepared: Prepared, rows: Sequence[Mapping[str, Any]]) -> None:
    """Run one statement for many rows inside conn's current transaction."""
    cursor = conn.connection.cursor()
    try:
        cursor.executemany(prepared.sql, [prepared.params(r) for r in rows])
    finally:
        cursor.close()
