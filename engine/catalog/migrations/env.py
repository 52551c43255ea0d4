"""Alembic environment for the tapir catalog.

tapir runs migrations itself (engine/catalog/db.py) and passes its open connection in
``config.attributes["connection"]``; no alembic.ini is needed. For developers,
``alembic -x url=sqlite:///path revision ...`` style use works through ``sqlalchemy.url``.
Logging is left to the application (no fileConfig).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

from engine.catalog.schema import metadata

config = context.config


def run_with(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them (batch mode)
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_with(connection)
        return
    engine = sa.create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        run_with(conn)
    engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_online()
