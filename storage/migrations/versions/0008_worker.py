"""runs.worker: the name of the worker that trained a run (an `nnlab worker`'s --name, or host:pid).

Revision ID: 0008_worker
Revises: 0005_backfill_series
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_worker"
down_revision = "0006_checkpoints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.add_column(sa.Column("worker", sa.String(255), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("worker")
