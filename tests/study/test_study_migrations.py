"""Alembic migrations: a database made by the previous schema (main 38a3398) is refused by the
guard, upgraded by `python -m study upgrade` with every row kept, and the revisions build exactly
the schema of the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, select, text

from study import db, migrations, service
from study.__main__ import main as study_cli

LEGACY_SQL = Path(__file__).parent / "data" / "study_schema_38a3398.sql"
# the tables of schema version 1 in foreign-key order, with their columns as 38a3398 made them
OLD_TABLES = ["study_schema", "study", "system", "clip", "track", "participant", "trial", "trial_item", "rating"]


def _legacy_sqlite(path: Path) -> str:
    """A SQLite file exactly as main 38a3398 wrote it (its schema and rows, from a dump)."""
    con = sqlite3.connect(path)
    con.executescript(LEGACY_SQL.read_text())
    con.close()
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def legacy_url(tmp_path_factory) -> str:
    return _legacy_sqlite(tmp_path_factory.mktemp("legacy") / "legacy.db")


def _rows(engine, legacy_url: str) -> dict[str, list[tuple]]:
    """Every row of the old tables, old columns only, in id order."""
    old = MetaData()
    old.reflect(create_engine(legacy_url), only=OLD_TABLES)
    out = {}
    with engine.connect() as c:
        for t in OLD_TABLES:
            cols = ", ".join(f'"{col.name}"' for col in old.tables[t].columns)
            out[t] = [tuple(r) for r in c.execute(text(f'SELECT {cols} FROM "{t}" ORDER BY id'))]
    return out


def _legacy_database(db_url: str, legacy_url: str, tmp_path: Path) -> str:
    """The previous schema with the fixture's rows: on SQLite the 38a3398 file itself; on
    PostgreSQL revision 0001 (checked equal to it below) with the rows copied in and no
    alembic_version table, as the pre-Alembic code left it."""
    if db_url.startswith("sqlite"):
        return _legacy_sqlite(tmp_path / "legacy.db")
    pg = create_engine(db.normalize_url(db_url))
    migrations.upgrade(pg, "0001")
    src = MetaData()
    src.reflect(create_engine(legacy_url), only=OLD_TABLES)
    with create_engine(legacy_url).connect() as s, pg.begin() as d:
        d.execute(text("DELETE FROM study_schema"))
        for t in OLD_TABLES:
            d.execute(src.tables[t].insert(), [dict(r._mapping) for r in s.execute(select(src.tables[t]))])
            if t != "study_schema":  # explicit ids: move the sequence past them
                d.execute(text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), (SELECT max(id) FROM {t}))"))
        d.execute(text("DROP TABLE alembic_version"))
    pg.dispose()
    return db_url


def test_previous_schema_is_refused_then_upgraded_with_every_row_kept(db_url, legacy_url, tmp_path, capsys):
    url = _legacy_database(db_url, legacy_url, tmp_path)
    raw = create_engine(db.normalize_url(url))
    # a PROLIFIC_PID that had two participants (allowed before): the new unique key must not lose one
    with raw.begin() as c:
        c.execute(text("UPDATE participant SET external_id = 'PID0' WHERE id = 3"))
    before = _rows(raw, legacy_url)
    assert len(before["rating"]) == 63 and len(before["trial"]) == 9
    assert migrations.is_legacy(raw) and migrations.current_revision(raw) is None

    with pytest.raises(db.SchemaMismatchError, match="python -m study upgrade"):
        db.make_engine(url)                                   # the guard refuses an old database
    assert study_cli(["upgrade", "--db", url]) == 0
    assert "revision 0003 (schema version 3)" in capsys.readouterr().out

    after = _rows(raw, legacy_url)
    assert after["participant"][2][4] == "PID0~dup3"          # renamed, not dropped
    after["participant"][2] = after["participant"][2][:4] + ("PID0",) + after["participant"][2][5:]
    after["study_schema"] = before["study_schema"]            # 1 -> 3, checked below
    assert after == before                                    # every old row, every old column
    with raw.connect() as c:
        assert c.execute(text("SELECT version FROM study_schema")).scalars().all() == [3]
        ids = c.execute(text("SELECT public_id FROM trial")).scalars().all()
        assert len(set(ids)) == 9 and all(len(i) >= 20 for i in ids)
        assert c.execute(text("SELECT count(*) FROM participant WHERE is_preview")).scalar() == 0
        assert c.execute(text("SELECT sum(plays), sum(listened_s) FROM trial_item")).one() == (0, 0)
        tally = dict(c.execute(text("SELECT clip_id, done FROM clip_tally")).all())   # 0003: completed ones
        want = dict(c.execute(text(
            "SELECT t.clip_id, count(*) FROM trial t JOIN participant p ON t.participant_id = p.id WHERE "
            "p.completed_at IS NOT NULL AND NOT p.excluded AND NOT p.is_preview AND NOT t.is_attention "
            "GROUP BY t.clip_id")).all())
        assert tally == want
    raw.dispose()

    engine = db.make_engine(url)                               # the guard now passes
    assert migrations.current_revision(engine) == migrations.head_revision()
    with db.read_session(engine) as s:
        df = service.export_ratings(s, "legacy")
    assert len(df) == 63 and set(df["system"]) >= {"SystemAlphaSecret", "SystemBetaSecret", "SystemGammaSecret"}
    with db.write_session(engine) as s:                        # new rows get fresh ids (sequences)
        p = service.create_participant(s, 1, external_id="NEW1")
        assert p.id == 4 and len(p.trials) == 3                 # 2 trials + 1 attention check
    assert study_cli(["upgrade", "--db", url]) == 0            # idempotent
    engine.dispose()


def test_revisions_build_the_models_schema(db_url):
    """All revisions from an empty database give what the models declare (autogenerate finds
    no difference), the same as a new database (models + stamp) gets."""
    engine = create_engine(db.normalize_url(db_url))
    before, after = migrations.upgrade(engine)
    assert (before, after) == (None, migrations.head_revision())
    with engine.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c, opts={"compare_type": True}), db.Base.metadata)
        assert diff == []
        assert c.execute(select(db.SchemaInfo.version)).scalars().all() == [db.SCHEMA_VERSION]
    db.check_schema(engine)


def test_revision_0001_is_the_38a3398_schema(tmp_path):
    """Revision 0001 makes the tables, columns, keys and indexes that 38a3398's create_all made."""
    legacy = create_engine(_legacy_sqlite(tmp_path / "old.db"))
    r1 = create_engine(f"sqlite:///{tmp_path / 'r1.db'}")
    migrations.upgrade(r1, "0001")

    def shape(engine):
        insp = inspect(engine)
        out = {}
        for t in OLD_TABLES:
            out[t] = (
                [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(t)],
                sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(t)),
                sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in insp.get_indexes(t)),
                sorted((tuple(f["constrained_columns"]), f["referred_table"], f["options"].get("ondelete"))
                       for f in insp.get_foreign_keys(t)),
            )
        return out

    assert shape(r1) == shape(legacy)
    assert set(inspect(r1).get_table_names()) - {"alembic_version"} == set(inspect(legacy).get_table_names())


def test_guard_refuses_unknown_revisions_and_versions(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.db'}"
    db.make_engine(url).dispose()
    raw = create_engine(url)
    with raw.begin() as c:
        c.execute(text("UPDATE study_schema SET version = 99"))
    with pytest.raises(db.SchemaMismatchError, match=r"version \[99\]"):
        db.make_engine(url)
    with raw.begin() as c:
        c.execute(text(f"UPDATE study_schema SET version = {db.SCHEMA_VERSION}"))
        c.execute(text("UPDATE alembic_version SET version_num = 'fffe'"))
    with pytest.raises(db.SchemaMismatchError, match="does not know"):
        db.make_engine(url, upgrade=True)
    with raw.begin() as c:
        c.execute(text("UPDATE alembic_version SET version_num = '0001'"))
    with pytest.raises(db.SchemaMismatchError, match="revision 0001"):
        db.make_engine(url, create=False)
    raw.dispose()
    with pytest.raises(db.SchemaMismatchError, match="holds no study schema"):
        db.make_engine(f"sqlite:///{tmp_path / 'empty.db'}", create=False)
