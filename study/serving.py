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
import sys

import uvicorn
from fastapi import FastAPI

from . import db
from .settings import StudySettings
from .web import create_app

ENV_DB = "SALSAV_STUDY_DB"
ENV_STUDY = "SALSAV_STUDY_NAME"


def app_from_env() -> FastAPI:
    """The app of one worker process (uvicorn factory)."""
    settings = StudySettings(db_url=os.environ[ENV_DB], study=os.environ.get(ENV_STUDY) or None)
    return create_app(settings, db.make_engine(settings.db_url, create=False))


def serve(db_url: str, host: str = "127.0.0.1", port: int = 7861, workers: int = 1,
          study: str | None = None, log_level: str = "warning") -> None:
    engine = db.make_engine(db_url)  # create or check the schema once, in the parent
    common = dict(host=host, port=port, log_level=log_level, access_log=False, backlog=4096)
    if workers <= 1:
        uvicorn.run(create_app(StudySettings(db_url=db_url, study=study), engine), **common)
        return
    if engine.dialect.name == "sqlite":
        print("note: several workers on SQLite share one write lock; use PostgreSQL to scale", file=sys.stderr)
    engine.dispose()
    os.environ[ENV_DB] = db_url
    os.environ[ENV_STUDY] = study or ""
    uvicorn.run("study.serving:app_from_env", factory=True, workers=workers, **common)
