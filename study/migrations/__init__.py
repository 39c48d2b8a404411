"""Alembic migrations of the study database, driven from Python (no alembic.ini needed).

    from study import migrations
    migrations.upgrade(engine)            # create or upgrade to the newest revision
    migrations.current_revision(engine)   # e.g. "0001"; None for an empty or pre-Alembic database
    migrations.head_revision()

A database made before Alembic (main 38a3398: a `study_schema` table holding version 1 and no
`alembic_version`) is stamped as revision 0001 and then upgraded. `python -m study upgrade
--db URL` does this from the command line. To write a new revision after changing the tables
in `study/db.py` (the revision must also bump `db.SCHEMA_VERSION`, which stays as a guard):

    alembic -c study/migrations/alembic.ini revision --autogenerate -m "what changed"
"""

from __future__ import annotations

import contextlib
import functools
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection, Engine

HERE = Path(__file__).resolve().parent
LEGACY_REVISION = "0001"  # the schema at main 38a3398, which had only the `study_schema` version table


def config(url: str | None = None, connection: Connection | None = None) -> Config:
    """An Alembic Config for our scripts; `connection` (if given) is used by env.py as is."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    return ScriptDirectory.from_config(config()).get_current_head()


@functools.lru_cache(maxsize=1)
def known_revisions() -> tuple[str, ...]:
    """Revision ids from the newest to the first."""
    return tuple(s.revision for s in ScriptDirectory.from_config(config()).walk_revisions())


def current_revision(bind: Engine | Connection) -> str | None:
    """The database's Alembic revision; None when it has none (empty, or made before Alembic)."""
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    return MigrationContext.configure(bind).get_current_revision()


def is_legacy(bind: Engine | Connection) -> bool:
    """True for a database made before Alembic by the version-1 schema (main 38a3398)."""
    tables = set(inspect(bind).get_table_names())
    if "alembic_version" in tables or "study_schema" not in tables:
        return False
    with (bind.connect() if isinstance(bind, Engine) else contextlib.nullcontext(bind)) as conn:
        versions = [r[0] for r in conn.execute(text("SELECT version FROM study_schema"))]
    return versions == [1]


def stamp(conn: Connection, revision: str = "head") -> None:
    """Record `revision` without running anything (a schema just made by metadata.create_all)."""
    MigrationContext.configure(conn).stamp(ScriptDirectory.from_config(config()), revision)


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the schema to `revision` in one transaction; returns (revision before, after).

    On SQLite, foreign keys are off while it runs: batch mode copies a table into a new one and
    drops the old, and ON DELETE CASCADE would otherwise empty every child table. A foreign-key
    check runs before the commit.
    """
    before = current_revision(engine)
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")  # only outside a transaction
        try:
            with conn.begin():
                if before is None and is_legacy(conn):
                    stamp(conn, LEGACY_REVISION)
                    before = LEGACY_REVISION
                command.upgrade(config(connection=conn), revision)
                if raw is not None and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise RuntimeError("the upgrade left rows whose foreign keys point nowhere; rolled back")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")
    return before, current_revision(engine)
