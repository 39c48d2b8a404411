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
from typing import Iterator

from sqlalchemy import (
    JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint,
    create_engine, event, false, inspect, select, text,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship

SCHEMA_VERSION = 2


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
    # one participant per PROLIFIC_PID and study (NULLs are distinct: anonymous participants)
    __table_args__ = (UniqueConstraint("study_id", "external_id"),)
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
    def _on_begin(conn):
        immediate = conn.get_execution_options().get("sqlite_immediate", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Engine for `url` (e.g. ``sqlite:///study.db``), schema created or checked.

    Raises SchemaMismatchError if the database holds another schema version.
    """
    kwargs = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        _configure_sqlite(engine)
    init_schema(engine, create=create)
    return engine


def init_schema(engine: Engine, *, create: bool = True) -> None:
    insp = inspect(engine)
    tables = set(insp.get_table_names())
    if SchemaInfo.__tablename__ in tables:
        with Session(engine) as s:
            versions = s.scalars(select(SchemaInfo.version)).all()
        if versions != [SCHEMA_VERSION]:
            raise SchemaMismatchError(
                f"database {engine.url!r} has study schema version {versions}, this code needs "
                f"[{SCHEMA_VERSION}]; export its ratings with the matching version or use a new database")
        return
    ours = {t.name for t in Base.metadata.sorted_tables} - {SchemaInfo.__tablename__}
    if tables & ours:
        raise SchemaMismatchError(
            f"database {engine.url!r} has study tables {sorted(tables & ours)} but no schema version "
            "table; it was not made by this version of the study platform")
    if not create:
        raise SchemaMismatchError(f"database {engine.url!r} holds no study schema")
    Base.metadata.create_all(engine)
    with write_session(engine) as s:
        s.add(SchemaInfo(id=1, version=SCHEMA_VERSION))


@contextlib.contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A Session for reads (never shared between threads)."""
    with Session(engine, expire_on_commit=False) as s:
        yield s


@contextlib.contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A Session whose transaction takes the write lock at BEGIN (SQLite) and commits on exit."""
    bind = engine.execution_options(sqlite_immediate=True) if engine.dialect.name == "sqlite" else engine
    with Session(bind, expire_on_commit=False) as s:
        with s.begin():
            yield s
