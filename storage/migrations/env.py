"""Alembic environment, driven from storage.db.upgrade_to_head (no alembic.ini needed).

storage.db passes an open Connection in `config.attributes["connection"]`, already inside the
transaction that must hold the whole upgrade. Run by hand, `sqlalchemy.url` in the config is used.
"""

from alembic import context

from storage.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run_migrations(connection)
else:
    from storage.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.begin() as conn:
        run_migrations(conn)
