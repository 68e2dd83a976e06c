"""Statements compiled once per dialect and run on the DBAPI cursor: the hot path of logging epochs.

SQLAlchemy still writes the SQL (so it is the right SQL for SQLite or PostgreSQL); only the per-call
execution machinery (cache keys, Connection, Result objects) is skipped. Logging an epoch happens
after every epoch of every run, so that machinery would cost more than the database work itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Prepared:
    """SQL text plus how to turn a dict of values (or a flat sequence in `names` order) into driver parameters."""

    sql: str
    order: tuple[str, ...] | None  # positional paramstyles (SQLite '?'): bind names in order
    defaults: Mapping[str, Any]  # values SQLAlchemy bound itself (literals inside the statement)
    processors: Mapping[str, Callable[[Any], Any]]  # type conversions (e.g. datetime -> SQLite text)
    names: tuple[str, ...] = ()  # the caller's binds, in the order `flat` takes their values
    tail: tuple | None = None  # set when order == names + defaults with no processors: flat is list + tail

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

    def flat(self, values: Sequence[Any]):
        """Driver parameters from values given in `names` order (no dict built on SQLite)."""
        if self.tail is not None:
            return [*values, *self.tail]
        return self.params(dict(zip(self.names, values, strict=True)))


_CACHE: dict[tuple[str, str, str], Prepared] = {}


def prepare(dialect, name: str, build: Callable[[Any], Any],
            sample: Mapping[str, Any] | Callable[[], Mapping[str, Any]]) -> Prepared:
    """The statement `build(dialect)` compiled for `dialect` (an Engine's or Connection's), cached under
    (dialect name, driver, name).

    `sample` (or a function making it, called only when compiling) holds a value for every bind the
    caller supplies, in the order `Prepared.flat` takes them; the remaining (literal) binds are
    resolved into `defaults`.
    """
    key = (dialect.name, dialect.driver, name)  # the driver decides the paramstyle
    prepared = _CACHE.get(key)
    if prepared is None:
        if callable(sample):
            sample = sample()
        compiled = build(dialect).compile(dialect=dialect)
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
        names = tuple(sample)
        tail = None
        if order is not None and not processors and order[:len(names)] == names:
            tail = tuple(defaults[n] for n in order[len(names):])
        prepared = _CACHE[key] = Prepared(compiled.string, order, defaults, processors, names, tail)
    return prepared
