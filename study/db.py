"""Database schema and engine for the listening study (SQLAlchemy 2.x).

SQLite is the default (WAL, synchronous=NORMAL, busy_timeout=30000, foreign keys on);
any SQLAlchemy URL works (PostgreSQL for bigger studies). Use one Session per request:
`read_session(engine)` for reads, `write_session(engine)` for read-then-write work, which
on SQLite opens the transaction with BEGIN IMMEDIATE so it takes the write lock up front
(in WAL mode a deferred reader that later writes gets SQLITE_BUSY at once, ignoring the
busy timeout).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import weakref
from typing import Iterator

from sqlalchemy import (
    JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
    create_engine, event, false, inspect, select, text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

from . import migrations
from .rawexec import FastConnection

SCHEMA_VERSION = 3


class SchemaMismatchError(RuntimeError):
    """The database was made by another schema version of the study platform."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    pass


class SchemaInfo(Base):
    __tablename__ = "study_schema"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer)


class Study(Base):
    __tablename__ = "study"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    # axes, scale, trials_per_participant, instructions, consent, require_play, ... (manifest)
    config: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # no new participants
    max_participants: Mapped[int | None] = mapped_column(Integer, nullable=True)  # cap (completed + active)
    systems: Mapped[list[System]] = relationship(back_populates="study")
    clips: Mapped[list[Clip]] = relationship(back_populates="study")


class System(Base):
    """A system under test; its name never reaches a participant's browser."""
    __tablename__ = "system"
    __table_args__ = (UniqueConstraint("study_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    study: Mapped[Study] = relationship(back_populates="systems")


class Clip(Base):
    __tablename__ = "clip"
    __table_args__ = (UniqueConstraint("study_id", "name"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    video_path: Mapped[str] = mapped_column(Text)  # the normalised copy (no audio stream) that is served
    duration: Mapped[float] = mapped_column(Float)
    source_path: Mapped[str | None] = mapped_column(Text, nullable=True)  # the file the manifest named
    study: Mapped[Study] = relationship(back_populates="clips")
    tracks: Mapped[list[Track]] = relationship(back_populates="clip")


class Track(Base):
    """Audio for one clip: a system's track, or an attention-check track.

    check_kind is None for regular tracks, "offset" for a system's track shifted in time
    (system_id = the source system) or "anchor" for a known-bad track (system_id None).
    """
    __tablename__ = "track"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    system_id: Mapped[int | None] = mapped_column(ForeignKey("system.id", ondelete="CASCADE"), nullable=True)
    audio_path: Mapped[str] = mapped_column(Text)  # the normalised copy that is served
    duration: Mapped[float] = mapped_column(Float)
    check_kind: Mapped[str | None] = mapped_column(String(20), nullable=True)
    source_path: Mapped[str | None] = mapped_column(Text, nullable=True)  # the file the manifest named
    # what normalisation did: source format / rate / channels / duration, loudness in and out, trim
    media_info: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    clip: Mapped[Clip] = relationship(back_populates="tracks")
    system: Mapped[System | None] = relationship()


class Participant(Base):
    __tablename__ = "participant"
    # one participant per PROLIFIC_PID and study (NULLs are distinct: anonymous participants);
    # (study_id, completed_at) finds the participants still going without reading the finished ones
    __table_args__ = (UniqueConstraint("study_id", "external_id"),
                      Index("ix_participant_study_id_completed_at", "study_id", "completed_at"))
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)  # secret; cookie / URL
    seed: Mapped[int] = mapped_column(Integer)
    external_id: Mapped[str | None] = mapped_column(String(200), nullable=True)  # PROLIFIC_PID
    external_study_id: Mapped[str | None] = mapped_column(String(200), nullable=True)  # STUDY_ID
    external_session_id: Mapped[str | None] = mapped_column(String(200), nullable=True)  # SESSION_ID
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    consent_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    instructions_done_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    completion_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    exclusion_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    is_preview: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())  # admin walk-through
    last_active_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # for balance
    trials: Mapped[list[Trial]] = relationship(back_populates="participant", order_by="Trial.order")


class ClipTally(Base):
    """Per clip: its trials (attention checks aside) given to participants who completed the study,
    are not excluded and are no preview: the part of the balance counts that time no longer changes
    (study.hotpath.clip_counts adds the participants still going). Kept in the transaction that
    completes a participant or changes a completed one's exclusion (hotpath.tally)."""
    __tablename__ = "clip_tally"
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), primary_key=True,
                                         autoincrement=False)
    done: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))


class Trial(Base):
    __tablename__ = "trial"
    __table_args__ = (UniqueConstraint("participant_id", "order"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"), index=True)
    clip_id: Mapped[int] = mapped_column(ForeignKey("clip.id", ondelete="CASCADE"), index=True)
    order: Mapped[int] = mapped_column(Integer)
    is_attention: Mapped[bool] = mapped_column(Boolean, default=False)
    video_token: Mapped[str] = mapped_column(String(64), unique=True)
    public_id: Mapped[str] = mapped_column(String(40), unique=True)  # random; the only id a browser sees
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # first shown
    last_beat_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # last listening report
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    participant: Mapped[Participant] = relationship(back_populates="trials")
    clip: Mapped[Clip] = relationship()
    items: Mapped[list[TrialItem]] = relationship(back_populates="trial", order_by="TrialItem.label")
    ratings: Mapped[list[Rating]] = relationship(back_populates="trial")


class TrialItem(Base):
    """The stored label -> track mapping of one trial, with the track's opaque media token."""
    __tablename__ = "trial_item"
    __table_args__ = (UniqueConstraint("trial_id", "label"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(4))
    track_id: Mapped[int] = mapped_column(ForeignKey("track.id", ondelete="CASCADE"))
    media_token: Mapped[str] = mapped_column(String(64), unique=True)
    fetched_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)  # first media fetch
    listened_s: Mapped[float] = mapped_column(Float, default=0.0, server_default=text("0"))  # credited play time
    plays: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))  # play segments started
    trial: Mapped[Trial] = relationship(back_populates="items")
    track: Mapped[Track] = relationship()


class Rating(Base):
    __tablename__ = "rating"
    __table_args__ = (UniqueConstraint("trial_id", "label", "axis"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(4))
    axis: Mapped[str] = mapped_column(String(40))
    score: Mapped[int] = mapped_column(Integer)
    rated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    trial: Mapped[Trial] = relationship(back_populates="ratings")


class ListenEvent(Base):
    """The listening log: media fetches and the player's play / beat / end reports per trial.

    label is None for the video; seconds is the play time the server credited (None for a fetch).
    """
    __tablename__ = "listen_event"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_id: Mapped[int] = mapped_column(ForeignKey("trial.id", ondelete="CASCADE"), index=True)
    label: Mapped[str | None] = mapped_column(String(4), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # fetch | play | beat | end
    seconds: Mapped[float | None] = mapped_column(Float, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


# --------------------------------------------------------------------------- engine

def normalize_url(url: str) -> str:
    """`postgresql://` and `postgres://` URLs go through psycopg 3 (the `postgres` install extra)."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # let SQLAlchemy emit BEGIN itself (below)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):   # on the driver's connection: SQLAlchemy's execution path costs more than SQLite
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def _configure_postgres(engine: Engine) -> None:
    @event.listens_for(engine, "do_connect")
    def _on_connect(_dialect, _rec, _cargs, cparams):
        # names each worker process in pg_stat_activity (set at connect time: workers are spawned)
        cparams.setdefault("application_name", f"salsav-study:{os.getpid()}")


def make_engine(url: str, *, create: bool = True, upgrade: bool = False) -> Engine:
    """Engine for `url` (e.g. ``sqlite:///study.db``, ``postgresql://user@host/db``), schema checked.

    An empty database gets the schema through the Alembic migrations (unless `create=False`);
    `upgrade=True` also upgrades an older one (`python -m study upgrade`). Then the guard:
    SchemaMismatchError unless the database is at the newest revision and SCHEMA_VERSION.
    """
    url = normalize_url(url)
    kwargs: dict = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    elif url.startswith("postgresql"):
        # one pool per worker process, at least as large as its thread pool (StudySettings.threads,
        # 8 by default; AnyIO's 40 when uncapped), so a request never waits for a connection (keep
        # workers x 40 under the server's max_connections, 100 by default); pre-ping drops
        # connections a database restart has closed
        kwargs.update(pool_size=10, max_overflow=30, pool_timeout=60, pool_pre_ping=True)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    elif engine.dialect.name == "postgresql":
        _configure_postgres(engine)
    init_schema(engine, create=create, upgrade=upgrade)
    return engine


def _name(engine: Engine) -> str:
    return repr(engine.url.render_as_string(hide_password=True))


def init_schema(engine: Engine, *, create: bool = True, upgrade: bool = False) -> None:
    """Create (empty database) or upgrade (`upgrade=True`) through Alembic, then `check_schema`.

    An empty database gets the models' tables stamped as the newest revision (Alembic's recipe
    for a new database; tests check that the revisions build the same schema).
    """
    tables = set(inspect(engine).get_table_names())
    ours = {t.name for t in Base.metadata.sorted_tables} | {"alembic_version"}
    if not tables & ours:
        if not create:
            raise SchemaMismatchError(f"database {_name(engine)} holds no study schema")
        with engine.begin() as conn:  # the models are the newest revision: create them and stamp it
            Base.metadata.create_all(conn)
            conn.execute(SchemaInfo.__table__.insert().values(id=1, version=SCHEMA_VERSION))
            migrations.stamp(conn, "head")
    elif upgrade and (migrations.current_revision(engine) in migrations.known_revisions()
                      or migrations.is_legacy(engine)):
        migrations.upgrade(engine)
    check_schema(engine)


def check_schema(engine: Engine) -> None:
    """The guard: the database is at the newest Alembic revision and holds SCHEMA_VERSION."""
    rev, head = migrations.current_revision(engine), migrations.head_revision()
    upgrade_hint = "upgrade it with: python -m study upgrade --db URL (back it up first)"
    if rev is None:
        if migrations.is_legacy(engine):
            raise SchemaMismatchError(f"database {_name(engine)} was made by an older version of the study "
                                      f"platform (schema version 1); {upgrade_hint}")
        raise SchemaMismatchError(f"database {_name(engine)} has study tables but no schema revision; "
                                  "it was not made by this version of the study platform")
    if rev != head:
        if rev in migrations.known_revisions():
            raise SchemaMismatchError(f"database {_name(engine)} is at study schema revision {rev}, this "
                                      f"code needs {head}; {upgrade_hint}")
        raise SchemaMismatchError(f"database {_name(engine)} is at study schema revision {rev!r}, which this "
                                  "code does not know (made by a newer version?); use the matching version")
    with Session(engine) as s:
        versions = s.scalars(select(SchemaInfo.version)).all()
    if versions != [SCHEMA_VERSION]:
        raise SchemaMismatchError(
            f"database {_name(engine)} has study schema version {versions}, this code needs "
            f"[{SCHEMA_VERSION}]; export its ratings with the matching version or use a new database")


def lock_for_update(session: Session, row: Base) -> None:
    """Serialise read-then-write work on one row (e.g. planning a study's next participant) across
    connections and worker processes: SELECT ... FOR UPDATE on PostgreSQL; on SQLite the
    write_session's BEGIN IMMEDIATE already holds the database's one write lock."""
    if session.get_bind().dialect.name != "sqlite":
        model = type(row)
        session.execute(select(model.id).where(model.id == row.id).with_for_update())


@contextlib.contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A Session for reads (never shared between threads)."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


_WRITERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _writer(engine: Engine) -> Engine:
    """The engine whose transactions begin with BEGIN IMMEDIATE on SQLite (made once per engine)."""
    if engine.dialect.name != "sqlite":
        return engine
    w = _WRITERS.get(engine)
    if w is None:
        w = _WRITERS[engine] = engine.execution_options(sqlite_immediate=True)
    return w


@contextlib.contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A Session whose transaction takes the write lock at BEGIN (SQLite) and commits on exit."""
    with Session(_writer(engine), expire_on_commit=False) as s:
        with s.begin():
            yield s


@contextlib.contextmanager
def write_connection(engine: Engine) -> Iterator[FastConnection]:
    """A Core connection in a write transaction (BEGIN IMMEDIATE on SQLite), committed on exit:
    for the hot paths (study.hotpath), which need no ORM objects. Their registered statements
    run on the DB-API cursor (`study.rawexec`)."""
    with _writer(engine).begin() as conn:
        yield FastConnection(conn)
