"""Serve the study with uvicorn: one process, or several worker processes.

    python -m study serve --db sqlite:///study.db                                   # one process
    python -m study serve --db postgresql://study@127.0.0.1/study --workers 4     # several

The parent process creates (or checks) the schema once, before any worker starts, so workers
never race to create it. Workers are spawned, not forked: each builds its own app and engine
in `app_from_env()` from the settings the parent put in the environment. Several workers need
a database server (PostgreSQL); on SQLite they work, but every write waits for one file lock.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time

import uvicorn
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import db
from .settings import StudySettings
from .web import create_app

ENV_DB = "SALSAV_STUDY_DB"
ENV_STUDY = "SALSAV_STUDY_NAME"


class WalCheckpointer(threading.Thread):
    """SQLite (WAL) checkpoints off the request path.

    By default a commit that finds the WAL over 1,000 pages checkpoints it, so that request
    copies pages and syncs. Here the engine's connections never checkpoint at commit
    (wal_autocheckpoint=0); this daemon thread runs PRAGMA wal_checkpoint(PASSIVE), which never
    waits for readers or writers, every `every_s` seconds on a connection of its own.
    """

    def __init__(self, engine: Engine, every_s: float = 1.0):
        super().__init__(name="wal-checkpoint", daemon=True)
        self.path, self.every_s, self.runs, self.last = engine.url.database, every_s, 0, None

        @event.listens_for(engine, "connect")
        def _no_autocheckpoint(dbapi_conn, _record):
            dbapi_conn.execute("PRAGMA wal_autocheckpoint=0")
        engine.dispose()  # connections pooled before this listener keep the default

    def run(self) -> None:
        con = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
        while True:
            time.sleep(self.every_s)
            try:
                self.last = con.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()  # (busy, log, done)
                self.runs += 1
            except sqlite3.Error:
                pass


def _serving_engine(db_url: str, **kw) -> Engine:
    engine = db.make_engine(db_url, **kw)
    if engine.dialect.name == "sqlite" and engine.url.database not in (None, "", ":memory:"):
        WalCheckpointer(engine).start()
    return engine


def app_from_env() -> FastAPI:
    """The app of one worker process (uvicorn factory)."""
    settings = StudySettings(db_url=os.environ[ENV_DB], study=os.environ.get(ENV_STUDY) or None,
                             db_on_loop=False)   # one of several processes: never wait on the loop
    return create_app(settings, _serving_engine(settings.db_url, create=False))


def serve(db_url: str, host: str = "127.0.0.1", port: int = 7861, workers: int = 1,
          study: str | None = None, log_level: str = "warning") -> None:
    engine = db.make_engine(db_url)  # create or check the schema once, in the parent
    common = dict(host=host, port=port, log_level=log_level, access_log=False, backlog=4096)
    if workers <= 1:
        engine.dispose()
        uvicorn.run(create_app(StudySettings(db_url=db_url, study=study), _serving_engine(db_url)), **common)
        return
    if engine.dialect.name == "sqlite":
        print("note: several workers on SQLite share one write lock; use PostgreSQL to scale", file=sys.stderr)
    engine.dispose()
    os.environ[ENV_DB] = db_url
    os.environ[ENV_STUDY] = study or ""
    uvicorn.run("study.serving:app_from_env", factory=True, workers=workers, **common)
