"""params.scaled for the Transformer runs stored before the knob existed: they all scaled their attention
scores by 1/sqrt(d), so they get scaled = true, and a comparison or a query grouped by `scaled` counts them
on the side they trained on. A data migration (one INSERT ... SELECT); downgrading leaves the rows, which
older code reads as one more parameter.

Revision ID: 0009_scaled_param
Revises: 0008_worker
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_scaled_param"
down_revision = "0008_worker"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(sa.text(
        "INSERT INTO params (run_id, name, value_text, value_num, value_type) "
        "SELECT r.id, 'scaled', 'true', 1.0, 'bool' FROM runs r WHERE r.model = 'transformer' "
        "AND NOT EXISTS (SELECT 1 FROM params p WHERE p.run_id = r.id AND p.name = 'scaled')"))


def downgrade() -> None:
    pass
