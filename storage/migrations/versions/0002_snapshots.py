"""Snapshots: arrays and JSON values captured per epoch, for the inspection views.

Revision ID: 0002_snapshots
Revises: 0001_initial
Create Date: 2025-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_snapshots"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("shape", sa.Text(), nullable=False),
        sa.Column("dtype", sa.String(20), nullable=False),
        sa.Column("encoding", sa.String(8), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("nbytes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_snapshots"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_snapshots_run_id_runs"),
        sa.UniqueConstraint("run_id", "kind", "epoch", "name", name="uq_snapshots_run_id_kind_epoch_name"),
        sa.CheckConstraint("encoding IN ('npy', 'json')", name="ck_snapshots_encoding"),
    )


def downgrade() -> None:
    op.drop_table("snapshots")
