"""Participant pages, JSON API and blinded media for the study (FastAPI, no Gradio).

    app = FastAPI()
    study.web.mount(app, StudySettings(db_url="sqlite:///study.db"))   # before mounting Gradio at "/"

Routes (prefix /study): consent -> instructions (volume check) -> trials -> end page.
The participant token lives in a cookie and in the page URL, so a reload, a closed tab or a
server restart resumes at the first unfinished trial; the same PROLIFIC_PID resumes too.
Media are served only under random per-participant tokens: every track as audio/wav of the
same size within a clip, every video as video/mp4 without an audio stream, with no file
name, ETag or Last-Modified. No system name, database id or file name reaches the browser.
Errors are answered by `pages.StudyRoute`; bodies are limited and security headers added by
`pages.StudySecurity`.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from pathlib import Path
from typing import Annotated

import anyio.to_thread
from fastapi import APIRouter, FastAPI, Form, Path as PathParam, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from . import admin, db, entry, fastroutes, hotmedia, hotpath, rawexec, service
from .api_models import ExternalId, ListenBody, NewParticipant, PublicId, RatingsBody, Token
from .pages import HERE, StudyRoute, StudySecurity, error_response, json_answer, render
from .settings import NO_TELEMETRY, StudySettings

TokenPath = Annotated[Token, PathParam()]
TrialPath = Annotated[PublicId, PathParam()]
FormText = Annotated[str, Form(max_length=128)]
_SAVED = {"saved": True}
_STATIC_MIME = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8"}


class StaticAssets:
    """study/static, read once into memory: the same bytes and headers for every participant.

    Pages link them under `{prefix}/static/{version}` (`version`: a hash of all of them), cached by
    the browser for a year, so a participant's next page loads them from its cache; a new
    version (the files changed) has new URLs. `{prefix}/static/{name}` (and an old version's
    URL) answer the current bytes with `no-cache`. No ETag or Last-Modified; answered on the
    event loop (no file system access, no thread)."""

    def __init__(self, directory: Path = HERE / "static"):
        files = {f.name: f.read_bytes() for f in sorted(directory.iterdir())
                 if f.is_file() and f.suffix in _STATIC_MIME}
        digest = hashlib.sha256()
        for name, body in files.items():
            digest.update(name.encode() + b"\0" + body + b"\0")
        self.version = digest.hexdigest()[:12]
        self.files = {name: (body, _STATIC_MIME[Path(name).suffix]) for name, body in files.items()}

    def response(self, name: str, version: str | None) -> Response | None:
        found = self.files.get(name)
        if found is None:
            return None
        cache = "public, max-age=31536000, immutable" if version == self.version else "no-cache"
        return Response(found[0], media_type=found[1], headers={"Cache-Control": cache})


class StudyApp:
    """Holds the engine and settings; builds the participant router."""

    def __init__(self, settings: StudySettings, engine=None):
        self.settings = settings
        self.engine = engine or db.make_engine(settings.db_url)
        self.assets = StaticAssets()
        self.static_url = f"{settings.prefix}/static/{self.assets.version}"   # what the pages link
        on_loop = settings.db_on_loop
        self.db_on_loop = self.engine.dialect.name == "sqlite" if on_loop is None else on_loop

    def state(self, token: str, trial: bool = True) -> dict:
        """The participant's state; with `trial`, the current trial too, marked as shown (its time
        starts here: a write transaction, study.hotpath.trial_state)."""
        pre = self.settings.prefix
        if trial:
            with rawexec.transaction(self.engine) as c:
                return hotpath.trial_state(c, token, media_prefix=f"{pre}/media/")
        with self.engine.connect() as c:
            return hotpath.participant_state(c, token)[1]

    def on_loop(self, route):
        """A participant route (sync, database work) as FastAPI will run it: with `db_on_loop` (SQLite,
        one process) on the event loop, like fastroutes.HotRoutes (a route left in the thread pool
        would wait for the GIL while the loop answers the hot routes: measured at N=500, the page,
        consent and instructions p95 2.4 s); else in the thread pool, as before."""
        if not self.db_on_loop:
            return route

        @functools.wraps(route)             # FastAPI reads the parameters through __wrapped__
        async def run(*args, **kwargs):
            return route(*args, **kwargs)
        return run

    def _enter(self, token: str) -> RedirectResponse:
        st = self.settings
        resp = RedirectResponse(f"{st.prefix}/p/{token}", status_code=303)
        resp.set_cookie(st.cookie_name, token, max_age=30 * 86400, httponly=True, samesite="lax",
                        secure=st.cookie_secure, path=st.prefix)
        return resp

    def router(self) -> APIRouter:
        st, pre = self.settings, self.settings.prefix
        r = APIRouter(route_class=StudyRoute)
        on_loop = self.on_loop

        @r.get(pre, response_class=HTMLResponse)
        @r.get(pre + "/", response_class=HTMLResponse, include_in_schema=False)
        @on_loop
        def landing(request: Request, study: Annotated[str | None, Query(max_length=200)] = None,
                    PROLIFIC_PID: Annotated[ExternalId | None, Query()] = None,
                    STUDY_ID: Annotated[ExternalId | None, Query()] = None,
                    SESSION_ID: Annotated[ExternalId | None, Query()] = None):
            with self.engine.connect() as c:
                go = entry.landing(c, study or st.study, request.cookies.get(st.cookie_name), PROLIFIC_PID)
            if go.token is not None:
                return self._enter(go.token) if go.set_cookie else RedirectResponse(f"{pre}/p/{go.token}", 303)
            cfg, sid = go.config, go.sid
            return render("consent.html", title=cfg["title"], consent=cfg["consent"], action=f"{pre}/consent",
                          study_id=sid, pid=PROLIFIC_PID or "", ext_study=STUDY_ID or "",
                          ext_session=SESSION_ID or "", static=self.static_url)

        @r.post(pre + "/consent")
        @on_loop
        def consent(study_id: Annotated[int, Form(ge=1, le=2**31)], agree: FormText = "",
                    PROLIFIC_PID: FormText = "", STUDY_ID: FormText = "", SESSION_ID: FormText = ""):
            if agree != "yes":
                raise service.ConsentRequired("you need to agree to take part before the study can start")
            with db.write_connection(self.engine) as c:  # = service.create_participant, in Core statements
                _, token = entry.create_participant(c, study_id, external_id=PROLIFIC_PID or None,
                                                      external_study_id=STUDY_ID or None,
                                                      external_session_id=SESSION_ID or None, consent=True)
            return self._enter(token)

        @r.get(pre + "/p/{token}", response_class=HTMLResponse)
        @on_loop
        def page(token: TokenPath):
            with rawexec.transaction(self.engine) as c:   # a trial page carries its state (= GET /state)
                state = hotpath.trial_state(c, token, media_prefix=f"{pre}/media/", after_instructions=True)
            cfg = state["config"]
            common = dict(title=cfg["title"], static=self.static_url, token=token, pre=pre,
                          preview=state["preview"])
            if state["done"]:
                return render("done.html", code=state["completion_code"], url=state["completion_url"], **common)
            if not state["instructions_done"]:
                return render("instructions.html", instructions=cfg["instructions"], axes=cfg["axes"],
                              action=f"{pre}/p/{token}/instructions", tone_level=cfg["tone_level"], **common)
            return render("trial.html", state=state, **common)

        @r.post(pre + "/p/{token}/instructions")
        @on_loop
        def instructions_done(token: TokenPath):
            with db.write_session(self.engine) as s:
                service.finish_instructions(s, token)
            return RedirectResponse(f"{pre}/p/{token}", status_code=303)

        # ------------------------------------------------------------ JSON API
        @r.post(pre + "/api/participants")
        @on_loop
        def api_new_participant(body: NewParticipant):
            """Join through the API with consent given: {consent: true, study?, external_id?, ...}
            -> {token}. The same external_id resumes the same participant."""
            with db.write_connection(self.engine) as c:
                sid = hotpath.study_id(c, body.study or st.study)
                pid, token = entry.create_participant(
                    c, sid, external_id=body.external_id, external_study_id=body.external_study_id,
                    external_session_id=body.external_session_id, consent=body.consent)
                entry.finish_instructions(c, pid)
            return {"token": token}

        @r.get(pre + "/api/{token}/state")
        @on_loop
        def api_state(token: TokenPath):
            return json_answer(self.state(token))

        @r.post(pre + "/api/{token}/trials/{trial_id}/listen")
        @on_loop
        def api_listen(token: TokenPath, trial_id: TrialPath, body: ListenBody):
            """A play report {kind: play|beat|end, label, seconds} -> the credited play time per label."""
            with db.write_connection(self.engine) as c:  # = listening.report, in a few Core statements
                out = hotpath.listen_report(c, token, trial_id, body.kind, body.label, body.seconds, body.started)
            return json_answer(out)

        @r.post(pre + "/api/{token}/trials/{trial_id}/ratings")
        @on_loop
        def api_rate(token: TokenPath, trial_id: TrialPath, body: RatingsBody):
            """{ratings: {label: {axis: score}}, complete: bool} -> the new state (or {saved: true})."""
            ratings = {k: dict(v) for k, v in body.ratings.items()}
            if not body.complete:  # a click: = service.submit_ratings(complete=False), in a few Core statements
                with db.write_connection(self.engine) as c:
                    hotpath.save_click(c, token, trial_id, ratings)
                return json_answer(_SAVED)
            with db.write_connection(self.engine) as c:  # the save and the next state: one transaction
                hotpath.complete_trial(c, token, trial_id, ratings)   # = service.submit_ratings(complete=True)
                out = hotpath.trial_state(c, token, media_prefix=f"{pre}/media/")
            return json_answer(out)

        @r.api_route(pre + "/static/{name}", methods=["GET", "HEAD"], include_in_schema=False)
        async def static(request: Request, name: Annotated[str, PathParam(max_length=64)]):
            return self.assets.response(name, None) or error_response(request, 404, "not found")

        @r.api_route(pre + "/static/{version}/{name}", methods=["GET", "HEAD"], include_in_schema=False)
        async def static_versioned(request: Request, version: Annotated[str, PathParam(max_length=64)],
                                   name: Annotated[str, PathParam(max_length=64)]):
            return self.assets.response(name, version) or error_response(request, 404, "not found")

        @r.get(pre + "/media/{media_token}")
        @on_loop
        def media(request: Request, media_token: TokenPath):
            """(fastroutes.HotRoutes answers the well-formed ones first, in the same way.)"""
            rng = request.headers.get("range")
            with db.write_connection(self.engine) as c:   # the first served fetch is logged
                found = hotmedia.fetch(c, media_token, rng)
            if found is None:
                return error_response(request, 404, "not found")
            return hotmedia.file_response(*found, bool(rng))

        return r


def cap_threads(app: FastAPI, threads: int) -> None:
    """At start-up (the app's lifespan), cap AnyIO's default thread limiter, which runs every sync
    route of the process (40 threads unless changed), at `threads` (0: leave it)."""
    if threads <= 0:
        return
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(a):
        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        async with inner(a) as state:
            yield state
    app.router.lifespan_context = lifespan


def mount(app: FastAPI, settings: StudySettings, engine=None) -> StudyApp:
    """Add /study (participant pages, API, media) and /admin to an existing FastAPI app.

    Call it before mounting Gradio (or anything else) at "/", and before the app starts.
    """
    sa = StudyApp(settings, engine)
    app.include_router(sa.router())
    app.include_router(admin.router(sa.engine, settings))
    app.add_middleware(fastroutes.HotRoutes, study=sa)   # inside StudySecurity (added after: outermost)
    app.add_middleware(StudySecurity, prefixes=(settings.prefix, settings.admin_prefix))
    cap_threads(app, settings.threads)
    return sa


def create_app(settings: StudySettings, engine=None) -> FastAPI:
    """A standalone app serving only the study and admin pages."""
    app = FastAPI(title="salsav study", docs_url=None, redoc_url=None, openapi_url=None,
                  telemetry=NO_TELEMETRY)
    app.state.study = mount(app, settings, engine)

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse(settings.prefix, status_code=303)

    return app
