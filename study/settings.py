"""Settings of the study web app (frozen dataclass with named presets)."""

from __future__ import annotations

import dataclasses
import os


@dataclasses.dataclass(frozen=True)
class StudySettings:
    db_url: str = "sqlite:///study.db"
    admin_password: str | None = None  # None: env SALSAV_ADMIN_PASSWORD; unset -> /admin refuses
    study: str | None = None           # default study (name or id); None: the newest one
    cookie_name: str = "sid"                # neutral: names no product or system
    cookie_secure: bool = False        # set True behind HTTPS
    prefix: str = "/study"
    admin_prefix: str = "/admin"
    # threads that run the (sync) routes, per process: AnyIO's default limiter, 40 unless set.
    # The routes' database work is short and SQLite takes one writer at a time, so a few threads
    # serve as much as 40 (measured: experiments/study-load/concurrency.md); env SALSAV_STUDY_THREADS
    # overrides (0 keeps AnyIO's 40)
    threads: int = dataclasses.field(default_factory=lambda: int(os.environ.get("SALSAV_STUDY_THREADS", "8")))

    # run the participant routes' database work on the event loop instead of the thread pool
    # (study.web.StudyApp.on_loop, study.fastroutes); None: on SQLite served by one process, where
    # one writer at a time runs anyway. Several processes on one SQLite file wait for each other's
    # write lock, which on the loop would stall every request of the process (measured: p95 0.5 s
    # at N=500 with 2 workers), so `serve --workers N` sets False.
    db_on_loop: bool | None = None

    def resolved_admin_password(self) -> str | None:
        return self.admin_password or os.environ.get("SALSAV_ADMIN_PASSWORD") or None


# FastAPI's built-in OpenTelemetry (FastAPI >= 0.165), off for the study's apps: participants'
# requests are not traced, and its per-request check cost ~0.03 ms on the hot routes.
NO_TELEMETRY = {"tracing": False, "metrics": False, "logs": False}

PRESETS = {
    "local": StudySettings(),
    "space": StudySettings(db_url="sqlite:////data/study.db", cookie_secure=True),
}
