"""Participant pages, JSON API and blinded media for the study (FastAPI, no Gradio).

    app = FastAPI()
    study.web.mount(app, StudySettings(db_url="sqlite:///study.db"))   # before mounting Gradio at "/"

Routes (prefix /study): consent -> instructions (volume check) -> trials -> end page.
The participant token lives in a cookie and in the page URL, so a reload, a closed tab or
a server restart resumes at the first unrated trial. Media are served only under random
per-participant tokens, with no file name; no system name, track id or file name is ever
sent to the browser.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

import jinja2
from fastapi import APIRouter, Body, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import select

from . import db, service
from .settings import StudySettings

HERE = Path(__file__).parent
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                          autoescape=jinja2.select_autoescape(["html"]))
_MEDIA_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".ogg": "audio/ogg",
                ".mp4": "video/mp4", ".webm": "video/webm", ".m4a": "audio/mp4"}


def render(name: str, status: int = 200, **ctx) -> HTMLResponse:
    return HTMLResponse(_ENV.get_template(name).render(**ctx), status_code=status)


def _error_page(msg: str, status: int = 400) -> HTMLResponse:
    return render("error.html", status=status, title="Listening study", message=msg)


def _json_error(e: Exception) -> JSONResponse:
    status = 404 if isinstance(e, (service.UnknownParticipant, service.TrialNotFound, service.UnknownStudy)) else 400
    return JSONResponse({"error": str(e)}, status_code=status)


class StudyApp:
    """Holds the engine and settings; builds the participant router."""

    def __init__(self, settings: StudySettings, engine=None):
        self.settings = settings
        self.engine = engine or db.make_engine(settings.db_url)

    # ---------------------------------------------------------------- helpers
    def state(self, token: str) -> dict:
        pre = self.settings.prefix
        with db.read_session(self.engine) as s:
            p = service.get_participant(s, token)
            study = s.get(db.Study, p.study_id)
            out = {"config": service.public_config(study), "done": p.completed_at is not None,
                   "instructions_done": p.instructions_done_at is not None}
            if out["done"]:
                out["completion_code"] = p.completion_code
                url = study.config.get("completion_url")
                out["completion_url"] = url.format(code=p.completion_code) if url else None
            else:
                t = service.next_trial(s, token)
                out["trial"] = service.trial_view(s, t, media_prefix=f"{pre}/media/")
            return out

    def router(self) -> APIRouter:
        st, pre = self.settings, self.settings.prefix
        r = APIRouter()

        @r.get(pre, response_class=HTMLResponse)
        @r.get(pre + "/", response_class=HTMLResponse, include_in_schema=False)
        def landing(request: Request, study: str | None = None):
            q = request.query_params
            try:
                with db.read_session(self.engine) as s:
                    row = service.get_study(s, study or st.study)
                    token = request.cookies.get(st.cookie_name)
                    if token:
                        p = s.scalars(select(db.Participant).where(db.Participant.token == token)).first()
                        if p is not None and p.study_id == row.id:
                            return RedirectResponse(f"{pre}/p/{token}", status_code=303)
                    cfg = service.public_config(row)
                    sid = row.id
            except service.StudyError as e:
                return _error_page(str(e), 404)
            return render("consent.html", title=cfg["title"], consent=cfg["consent"], action=f"{pre}/consent",
                          study_id=sid, pid=q.get("PROLIFIC_PID", ""), ext_study=q.get("STUDY_ID", ""),
                          ext_session=q.get("SESSION_ID", ""), static=f"{pre}/static")

        @r.post(pre + "/consent")
        def consent(study_id: int = Form(...), agree: str = Form(""), PROLIFIC_PID: str = Form(""),
                    STUDY_ID: str = Form(""), SESSION_ID: str = Form("")):
            if agree != "yes":
                return _error_page("You need to agree to take part before the study can start.")
            try:
                with db.write_session(self.engine) as s:
                    p = service.create_participant(s, study_id, external_id=PROLIFIC_PID or None,
                                                   external_study_id=STUDY_ID or None,
                                                   external_session_id=SESSION_ID or None)
                    token = p.token
            except service.StudyError as e:
                return _error_page(str(e), 404)
            resp = RedirectResponse(f"{pre}/p/{token}", status_code=303)
            resp.set_cookie(st.cookie_name, token, max_age=30 * 86400, httponly=True, samesite="lax",
                            secure=st.cookie_secure, path=pre)
            return resp

        @r.get(pre + "/p/{token}", response_class=HTMLResponse)
        def page(token: str):
            try:
                state = self.state(token)
            except service.StudyError as e:
                return _error_page(str(e), 404)
            cfg = state["config"]
            common = dict(title=cfg["title"], static=f"{pre}/static", token=token, pre=pre)
            if state["done"]:
                return render("done.html", code=state["completion_code"], url=state["completion_url"], **common)
            if not state["instructions_done"]:
                return render("instructions.html", instructions=cfg["instructions"], axes=cfg["axes"],
                              action=f"{pre}/p/{token}/instructions", **common)
            return render("trial.html", **common)

        @r.post(pre + "/p/{token}/instructions")
        def instructions_done(token: str):
            try:
                with db.write_session(self.engine) as s:
                    service.finish_instructions(s, token)
            except service.StudyError as e:
                return _error_page(str(e), 404)
            return RedirectResponse(f"{pre}/p/{token}", status_code=303)

        # ------------------------------------------------------------ JSON API
        @r.post(pre + "/api/participants")
        def api_new_participant(body: dict = Body(default={})):
            """Create a participant (consent given elsewhere): {study?, external_id?, ...} -> {token}."""
            try:
                with db.write_session(self.engine) as s:
                    sid = service.get_study(s, body.get("study") or st.study).id
                    p = service.create_participant(s, sid, external_id=body.get("external_id"),
                                                   external_study_id=body.get("external_study_id"),
                                                   external_session_id=body.get("external_session_id"))
                    token = p.token
                    s.flush()
                with db.write_session(self.engine) as s:
                    service.finish_instructions(s, token)
            except service.StudyError as e:
                return _json_error(e)
            return {"token": token}

        @r.get(pre + "/api/{token}/state")
        def api_state(token: str):
            try:
                return self.state(token)
            except service.StudyError as e:
                return _json_error(e)

        @r.post(pre + "/api/{token}/trials/{trial_id}/ratings")
        def api_rate(token: str, trial_id: int, body: dict = Body(...)):
            """Body {ratings: {label: {axis: score}}, complete: bool} -> the new state."""
            try:
                with db.write_session(self.engine) as s:
                    service.submit_ratings(s, token, trial_id, body.get("ratings") or {},
                                           complete=bool(body.get("complete", True)))
                return self.state(token) if body.get("complete", True) else {"saved": True}
            except service.StudyError as e:
                return _json_error(e)

        @r.get(pre + "/media/{media_token}")
        def media(media_token: str):
            with db.read_session(self.engine) as s:
                path = s.scalar(select(db.Track.audio_path).join(db.TrialItem, db.TrialItem.track_id == db.Track.id)
                                .where(db.TrialItem.media_token == media_token))
                if path is None:
                    path = s.scalar(select(db.Clip.video_path).join(db.Trial, db.Trial.clip_id == db.Clip.id)
                                    .where(db.Trial.video_token == media_token))
            if path is None or not Path(path).is_file():
                return JSONResponse({"error": "not found"}, status_code=404)
            ext = Path(path).suffix.lower()
            mt = _MEDIA_TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"
            # no filename -> no Content-Disposition; FileResponse answers Range requests
            return FileResponse(path, media_type=mt, headers={"Cache-Control": "private, max-age=86400"})

        return r


def mount(app: FastAPI, settings: StudySettings, engine=None) -> StudyApp:
    """Add /study (participant pages, API, media) and /admin to an existing FastAPI app.

    Call it before mounting Gradio (or anything else) at "/".
    """
    from . import admin

    sa = StudyApp(settings, engine)
    app.include_router(sa.router())
    app.mount(settings.prefix + "/static", StaticFiles(directory=HERE / "static"), name="study-static")
    app.include_router(admin.router(sa))
    return sa


def create_app(settings: StudySettings, engine=None) -> FastAPI:
    """A standalone app serving only the study and admin pages."""
    app = FastAPI(title="salsav study", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.study = mount(app, settings, engine)

    @app.get("/", include_in_schema=False)
    def root():
        return RedirectResponse(settings.prefix, status_code=303)

    return app
