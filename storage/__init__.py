"""NN Lab's run store: SQLAlchemy 2 tables, Alembic migrations, and verbs that read and write runs.

Everything SQLAlchemy stays inside this package; callers get plain data (dataclasses, dicts).
Open a database with `open_db(url)`: it creates or migrates the schema and caches the engine per process.

The names below load their submodule on first use (PEP 562), so a process that needs only part of
the store, such as a run's writer process, does not pay for importing all of it.
"""

from __future__ import annotations

import importlib

_EXPORTS = {  # name -> the submodule that defines it
    **dict.fromkeys(("DEFAULT_DB_URL", "RunNotFound", "SchemaTooNew", "close_all", "head_revision", "make_engine",
                     "normalize_url", "open_db", "resolve_db_url", "session_scope"), "db"),
    **dict.fromkeys(("RunRow", "count_runs", "get_metric_histories", "get_metric_history", "get_params_table",
                     "get_run", "grouped_metric_stats", "list_experiments", "list_metric_keys", "list_param_names",
                     "list_runs", "list_tags"), "reads"),
    **dict.fromkeys(("QueryError", "QueryRefused", "QueryResult", "QueryTimeout", "run_readonly_query"), "readonly"),
    "DBRecorder": "recorder",
    "get_schema_description": "schema_doc",
    **dict.fromkeys(("list_snapshots", "read_snapshot", "write_snapshot"), "snapshots"),
    **dict.fromkeys(("claim_next_run", "create_run", "delete_runs", "finish_run", "heartbeat", "is_cancel_requested",
                     "log_epoch", "mark_crashed_runs", "rename_run", "request_cancel", "set_note", "set_run_fields",
                     "start_run", "tag_run", "untag_run"), "writes"),
}

__all__ = list(_EXPORTS)


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'storage' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
