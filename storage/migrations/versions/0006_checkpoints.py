"""Checkpoints: a run's training state per chosen epoch, the BLAS threads a run trained with, and the
parent of a fork.

SQLite cannot add a foreign key to a table, and rebuilding `runs` inside the upgrade's transaction
(foreign keys on) would cascade-delete every run's rows. So on SQLite the column is added plain and
the constraint is written into the table's stored definition, the documented way to change a
constraint without touching the data (https://sqlite.org/lang_altertable.html#otheralter: writable
schema, schema version bumped); every value is NULL, so nothing can violate it. On PostgreSQL it is
an ordinary ADD CONSTRAINT.

Revision ID: 0006_checkpoints
Revises: 0006_lessons
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_checkpoints"
down_revision = "0006_lessons"
branch_labels = None
depends_on = None

PARENT_FK = "fk_runs_parent_run_id_runs"


def upgrade() -> None:
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("nbytes", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_checkpoints"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], ondelete="CASCADE", name="fk_checkpoints_run_id_runs"),
        sa.UniqueConstraint("run_id", "epoch", name="uq_checkpoints_run_id_epoch"),
    )
    op.add_column("runs", sa.Column("threads", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("fork_epoch", sa.Integer(), nullable=True))
    op.add_column("runs", sa.Column("parent_run_id", sa.Integer(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_add_parent_fk(op.get_bind())
    else:
        op.create_foreign_key(PARENT_FK, "runs", "runs", ["parent_run_id"], ["id"], ondelete="SET NULL")


def _sqlite_add_parent_fk(conn) -> None:
    sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'").scalar()
    body = sql.rstrip()
    if not body.endswith(")"):
        raise RuntimeError(f"unexpected definition of table runs: {sql[-80:]!r}")
    body = body[:-1].rstrip() + (f",\n\tCONSTRAINT {PARENT_FK} FOREIGN KEY(parent_run_id) REFERENCES runs (id) "
                                 f"ON DELETE SET NULL\n)")
    version = conn.exec_driver_sql("PRAGMA schema_version").scalar()
    conn.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        conn.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'runs'", (body,))
        conn.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        conn.exec_driver_sql("PRAGMA writable_schema = OFF")


def downgrade() -> None:
    with op.batch_alter_table("runs") as batch:
        if op.get_bind().dialect.name != "sqlite":
            batch.drop_constraint(PARENT_FK, type_="foreignkey")
        batch.drop_column("parent_run_id")
        batch.drop_column("fork_epoch")
        batch.drop_column("threads")
    op.drop_table("checkpoints")
