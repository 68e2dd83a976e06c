"""Packed series: one row per finished (run, key) holding its steps and values as little-endian arrays,
so histories of many runs read a few rows instead of every point. Runs that ended before this
revision are not backfilled: their histories keep coming from the metrics table.

Revision ID: 0004_metric_series
Revises: 0003_running_index
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_metric_series"
down_revision = "0003_running_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metric_series",
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(100), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("steps", sa.LargeBinary(), nullable=False),
        sa.Column("vals", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("run_id", "key", name="pk_metric_series"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_metric_series_run_id_runs"),
    )  # a rowid table on SQLite (see models.MetricSeries)


def downgrade() -> None:
    op.drop_table("metric_series")
