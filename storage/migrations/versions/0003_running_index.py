"""A small partial index of the running runs (heartbeats never touch it), so the crash check on every
listing reads only those.

Revision ID: 0003_running_index
Revises: 0002_snapshots
Create Date: 2025-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_running_index"
down_revision = "0002_snapshots"
branch_labels = None
depends_on = None

RUNNING = sa.text("status = 'running'")


def upgrade() -> None:
    op.create_index("ix_runs_running", "runs", ["id"], sqlite_where=RUNNING,
                    postgresql_where=RUNNING)


def downgrade() -> None:
    op.drop_index("ix_runs_running", table_name="runs")
