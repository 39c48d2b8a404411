"""Admin pages (/admin, HTTP Basic, password from SALSAV_ADMIN_PASSWORD or settings):
progress per study, live MOS preview, CSV / Parquet export (ratings and the listening log),
excluding participants, closing a study or capping it, and a preview walk-through that is
never counted. Every POST needs the form's CSRF token, and a foreign Origin is refused."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from sqlalchemy import select

from . import db, export, service
from .pages import StudyRoute, render
from .settings import StudySettings

_basic = HTTPBasic(auto_error=False)
DbId = Annotated[int, Path(ge=1, le=2**31)]


def csrf_token(password: str) -> str:
    """The token every admin form carries: keyed by the admin password, unknown to other sites."""
    return hmac.new(password.encode(), b"salsav-admin-csrf", hashlib.sha256).hexdigest()[:32]


def same_origin(request: Request) -> bool:
    """False when the request names an Origin (or, without one, a Referer) on another host."""
    src = request.headers.get("origin") or request.headers.get("referer")
    if not src or src == "null":
        return src is None
    return urlsplit(src).netloc == request.headers.get("host", "")


def router(engine, st: StudySettings) -> APIRouter:
    """Admin routes over `engine`."""
    pre = st.admin_prefix
    r = APIRouter(route_class=StudyRoute)

    def auth(cred: HTTPBasicCredentials | None = Depends(_basic)) -> str:
        pw = st.resolved_admin_password()
        if not pw:
            raise HTTPException(503, "admin is disabled: set SALSAV_ADMIN_PASSWORD")
        if cred is None or not secrets.compare_digest(cred.password.encode(), pw.encode()):
            raise HTTPException(401, "admin password required", headers={"WWW-Authenticate": 'Basic realm="salsav admin"'})
        return pw

    def post_auth(request: Request, pw: str = Depends(auth),
                  csrf: Annotated[str, Form(max_length=64)] = "") -> None:
        if not same_origin(request):
            raise HTTPException(403, "cross-site request refused")
        if not secrets.compare_digest(csrf.encode(), csrf_token(pw).encode()):
            raise HTTPException(403, "missing or wrong form token; reload the admin page")

    def page(name: str, pw: str, **ctx) -> HTMLResponse:
        return render(name, static=f"{st.prefix}/static", pre=pre, csrf=csrf_token(pw), **ctx)

    @r.get(pre, response_class=HTMLResponse)
    def index(pw: str = Depends(auth)):
        with db.read_session(engine) as s:
            studies = s.scalars(select(db.Study).order_by(db.Study.id)).all()
            rows = [(x, service.study_progress(s, x.id)) for x in studies]
        return page("admin_index.html", pw, title="Study admin", rows=rows)

    @r.get(pre + "/study/{study_id}", response_class=HTMLResponse)
    def study_page(study_id: DbId, pw: str = Depends(auth)):
        with db.read_session(engine) as s:
            study = service.get_study(s, study_id)
            prog = service.study_progress(s, study.id)
            df = service.export_ratings(s, study.id)
            warnings = [(t.clip.name, w) for t in s.scalars(select(db.Track).join(db.Clip)
                                                             .where(db.Clip.study_id == study.id))
                        for w in (t.media_info or {}).get("warnings", [])]
        from analysis.preview import mos_preview   # pandas + statsmodels: off the app's start-up path
        mos = mos_preview(df)  # rater-clustered 95 % interval, as the analysis report
        per_cs = (df[~df["attention_check"]].drop_duplicates(["trial_id", "label"])
                  .pivot_table(index="clip", columns="system", values="trial_id", aggfunc="count", fill_value=0))
        return page("admin_study.html", pw, title=f"Study: {study.name}", study=study, prog=prog,
                    n_ratings=len(df), media_warnings=warnings,
                    mos=mos.to_html(index=False, float_format="%.2f", classes="mos"),
                    per_cs=per_cs.to_html() if len(per_cs) else "<p>No ratings yet.</p>")

    @r.get(pre + "/study/{study_id}/{what}.{fmt}")
    def download(study_id: DbId, what: str, fmt: str, pw: str = Depends(auth)):
        if what not in ("ratings", "listening") or fmt not in ("csv", "parquet"):
            raise HTTPException(404, "export is ratings or listening, as csv or parquet")
        with db.read_session(engine) as s:
            study = service.get_study(s, study_id)
            df = (service.export_ratings if what == "ratings" else service.export_listening)(s, study.id)
        if fmt == "csv":
            body, mt = export.to_csv_bytes(df), "text/csv"
        else:
            buf = io.BytesIO()
            df.to_parquet(buf, index=False)
            body, mt = buf.getvalue(), "application/vnd.apache.parquet"
        return Response(body, media_type=mt,
                        headers={"Content-Disposition": f'attachment; filename="study{study.id}-{what}.{fmt}"'})

    @r.post(pre + "/participant/{participant_id}/exclude", dependencies=[Depends(post_auth)])
    def exclude(participant_id: DbId, excluded: Annotated[str, Form(max_length=1)] = "1",
                reason: Annotated[str, Form(max_length=500)] = ""):
        with db.write_session(engine) as s:
            service.exclude_participant(s, participant_id, excluded == "1", reason or None)
            sid = s.get(db.Participant, participant_id).study_id
        return RedirectResponse(f"{pre}/study/{sid}", status_code=303)

    @r.post(pre + "/study/{study_id}/status", dependencies=[Depends(post_auth)])
    def status(study_id: DbId, closed: Annotated[str, Form(max_length=1)] = "0",
               max_participants: Annotated[str, Form(max_length=9, pattern=r"^\d*$")] = ""):
        with db.write_session(engine) as s:
            service.set_study_status(s, study_id, closed == "1",
                                     int(max_participants) if max_participants.strip("0") else None)
        return RedirectResponse(f"{pre}/study/{study_id}", status_code=303)

    @r.post(pre + "/study/{study_id}/preview", dependencies=[Depends(post_auth)])
    def preview(study_id: DbId):
        """Walk through the study as a participant would; never counted, never exported."""
        with db.write_session(engine) as s:
            token = service.create_participant(s, study_id, preview=True).token
        return RedirectResponse(f"{st.prefix}/p/{token}", status_code=303)

    return r
