"""NN Lab's run store: SQLAlchemy 2 tables, Alembic migrations, and verbs that read and write runs.

Everything SQLAlchemy stays inside this package; callers get plain data (dataclasses, dicts).
Open a database with `open_db(url)`: it creates or migrates the schema and caches the engine per
process. Reads are in `reads`, writes in `writes` (a run's epochs in `epoch_log`), snapshots in
`snapshots`, the read-only SQL of the Query page in `readonly`; the verbs are also importable from
here (`import storage as s; s.list_runs(...)`).
"""

from .db import (DEFAULT_DB_URL, RunNotFound, SchemaTooNew, close_all, head_revision, make_engine, normalize_url,
                 open_db, resolve_db_url, session_scope)
from .epoch_log import log_epochs
from .readonly import QueryError, QueryRefused, QueryResult, QueryTimeout, run_readonly_query
from .reads import (RunRow, count_runs, get_metric_histories, get_metric_history, get_params_table, get_run,
                    grouped_metric_stats, list_experiments, list_metric_keys, list_param_names, list_runs, list_tags)
from .schema_doc import get_schema_description
from .snapshots import list_snapshots, read_snapshot, write_snapshot
from .writes import (claim_next_run, create_run, delete_runs, finish_run, heartbeat, log_epoch,
                     mark_crashed_runs, rename_run, request_cancel, set_note, set_run_fields, start_run, tag_run,
                     untag_run)

__all__ = ["DEFAULT_DB_URL", "QueryError", "QueryRefused", "QueryResult", "QueryTimeout", "RunNotFound", "RunRow",
           "SchemaTooNew", "claim_next_run", "close_all", "count_runs", "create_run", "delete_runs", "finish_run",
           "get_metric_histories", "get_metric_history", "get_params_table", "get_run", "get_schema_description",
           "grouped_metric_stats", "head_revision", "heartbeat", "list_experiments",
           "list_metric_keys", "list_param_names", "list_runs", "list_snapshots", "list_tags", "log_epoch",
           "log_epochs", "make_engine", "mark_crashed_runs", "normalize_url", "open_db", "read_snapshot",
           "rename_run", "request_cancel", "resolve_db_url", "run_readonly_query", "session_scope", "set_note",
           "set_run_fields", "start_run", "tag_run", "untag_run", "write_snapshot"]
