"""Lessons and ablations: experiment_runs links a run to every experiment that uses it (a run reused by
a lesson keeps its own experiment), and events holds the notes computed from a run's curves
(divergence, plateau, overfitting onset). Events of runs stored before this revision are computed on
demand (storage.events.backfill_events), not here.

Revision ID: 0006_lessons
Revises: 0005_backfill_series
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_lessons"
down_revision = "0005_backfill_series"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiment_runs",
        sa.Column("experiment_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "run_id", name="pk_experiment_runs"),
        sa.ForeignKeyConstraint(["experiment_id"], ["experiments.id"], ondelete="CASCADE",
                                name="fk_experiment_runs_experiment_id_experiments"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_experiment_runs_run_id_runs"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_experiment_runs_run_id", "experiment_runs", ["run_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_events_run_id_runs"),
        sa.UniqueConstraint("run_id", "kind", "epoch", name="uq_events_run_id_kind_epoch"),
        sa.CheckConstraint("kind IN ('divergence', 'plateau', 'overfitting')", name="ck_events_kind"),
    )


def downgrade() -> None:
    op.drop_table("events")
    op.drop_index("ix_experiment_runs_run_id", table_name="experiment_runs")
    op.drop_table("experiment_runs")
