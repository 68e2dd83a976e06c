"""The schema description (query page, README) matches the models; SCHEMA.md is up to date."""

from __future__ import annotations

import re

import storage as s
from storage.schema_doc import GENERATED_MARKER, SCHEMA_MD, schema_tables_markdown


def test_every_table_and_column_has_a_meaning():
    tables = s.get_schema_description()
    assert {t["table"] for t in tables} == {"experiments", "runs", "run_tags", "params", "metrics",
                                            "metric_summary", "metric_series", "snapshots", "experiment_runs", "events",
                                            "checkpoints"}
    for t in tables:
        assert t["meaning"], t["table"]
        assert all(c["meaning"] for c in t["columns"]), t["table"]


def test_schema_md_holds_the_current_generated_tables():
    text = SCHEMA_MD.read_text(encoding="utf-8")
    assert text.split(GENERATED_MARKER)[1].strip() == schema_tables_markdown().strip(), \
        "run `python -m storage.schema_doc` to regenerate storage/SCHEMA.md"


def test_the_example_query_in_schema_md_runs(sqlite_engine):
    for lr in (0.1, 0.01, 0.1):
        run_id = s.create_run(sqlite_engine, {}, {"lr": lr})
        s.log_epoch(sqlite_engine, run_id, 1, {"val_accuracy": lr * 5})
    sql = re.search(r"```sql\n(.*?)```", SCHEMA_MD.read_text(encoding="utf-8"), re.DOTALL).group(1)
    result = s.run_readonly_query(str(sqlite_engine.url), sql)
    assert result.columns == ["lr", "best_val_accuracy", "runs"]
    assert result.rows == [(0.01, 0.05, 1), (0.1, 0.5, 2)]
