"""Alembic environment of the campaign store; run in code by powderlab.autonomy.migrate (no alembic.ini).

The caller passes an open connection in `config.attributes["connection"]` (migrate.open_at_head
does); for a developer's `alembic.command.revision(..., autogenerate=True)` a URL in the
`sqlalchemy.url` main option works too. The target metadata is autonomy/schema.py.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from powderlab.autonomy.schema import metadata


def _run(connection: Connection) -> None:
    # render_as_batch: SQLite cannot ALTER most things; batch mode copies the table instead.
    context.configure(connection=connection, target_metadata=metadata, compare_type=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    if context.is_offline_mode():
        raise RuntimeError("the campaign store has no offline (SQL script) migrations; open the database instead")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    from powderlab.autonomy.store import make_engine

    engine = make_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


run()
