"""Alembic environment: runs the revisions on a connection handed in by study.migrations
(`config.attributes["connection"]`), or on `sqlalchemy.url` from the alembic command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from study import db

target_metadata = db.Base.metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER much
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run() -> None:
    cfg = context.config
    conn = cfg.attributes.get("connection")
    if conn is not None:
        _run(conn)
        return
    if context.is_offline_mode():
        context.configure(url=cfg.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                          literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(db.normalize_url(cfg.get_main_option("sqlalchemy.url")))
    with engine.begin() as connection:
        _run(connection)
    engine.dispose()


run()
