"""Admin pages (/admin, HTTP Basic, password from SALSAV_ADMIN_PASSWORD or settings):
progress per study, live MOS preview, CSV / Parquet export, excluding participants."""

from __future__ import annotations

import io
import secrets

from fastapi import APIRouter, Depends, Form, HTTPException
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from sqlalchemy import select

from . import db, service

_basic = HTTPBasic(auto_error=False)


def router(sa) -> APIRouter:
    """Admin routes for a `web.StudyApp`."""
    from .web import render

    st, pre = sa.settings, sa.settings.admin_prefix
    r = APIRouter()

    def auth(cred: HTTPBasicCredentials | None = Depends(_basic)) -> None:
        pw = st.resolved_admin_password()
        if not pw:
            raise HTTPException(503, "admin is disabled: set SALSAV_ADMIN_PASSWORD")
        if cred is None or not secrets.compare_digest(cred.password.encode(), pw.encode()):
            raise HTTPException(401, "admin password required", headers={"WWW-Authenticate": 'Basic realm="salsav admin"'})

    @r.get(pre, response_class=HTMLResponse, dependencies=[Depends(auth)])
    def index():
        with db.read_session(sa.engine) as s:
            studies = s.scalars(select(db.Study).order_by(db.Study.id)).all()
            rows = [(x, service.study_progress(s, x.id)) for x in studies]
        return render("admin_index.html", title="Study admin", static=f"{st.prefix}/static", pre=pre, rows=rows)

    @r.get(pre + "/study/{study_id}", response_class=HTMLResponse, dependencies=[Depends(auth)])
    def study_page(study_id: int):
        try:
            with db.read_session(sa.engine) as s:
                study = service.get_study(s, study_id)
                prog = service.study_progress(s, study.id)
                df = service.export_ratings(s, study.id)
        except service.StudyError as e:
            raise HTTPException(404, str(e)) from None
        mos = service.mos_table(df)
        per_cs = (df[~df["attention_check"]].drop_duplicates(["trial_id", "label"])
                  .pivot_table(index="clip", columns="system", values="trial_id", aggfunc="count", fill_value=0))
        return render("admin_study.html", title=f"Study: {study.name}", static=f"{st.prefix}/static", pre=pre,
                      study=study, prog=prog, n_ratings=len(df),
                      mos=mos.to_html(index=False, float_format="%.2f", classes="mos"),
                      per_cs=per_cs.to_html() if len(per_cs) else "<p>No ratings yet.</p>")

    @r.get(pre + "/study/{study_id}/ratings.{fmt}", dependencies=[Depends(auth)])
    def export(study_id: int, fmt: str):
        if fmt not in ("csv", "parquet"):
            raise HTTPException(404, "format must be csv or parquet")
        with db.read_session(sa.engine) as s:
            study = service.get_study(s, study_id)
            df = service.export_ratings(s, study.id)
        buf = io.BytesIO()
        if fmt == "csv":
            df.to_csv(buf, index=False)
            mt = "text/csv"
        else:
            df.to_parquet(buf, index=False)
            mt = "application/vnd.apache.parquet"
        return Response(buf.getvalue(), media_type=mt,
                        headers={"Content-Disposition": f'attachment; filename="{study.name}-ratings.{fmt}"'})

    @r.post(pre + "/participant/{participant_id}/exclude", dependencies=[Depends(auth)])
    def exclude(participant_id: int, excluded: str = Form("1"), reason: str = Form("")):
        with db.write_session(sa.engine) as s:
            try:
                service.exclude_participant(s, participant_id, excluded == "1", reason or None)
            except service.StudyError as e:
                raise HTTPException(404, str(e)) from None
            sid = s.get(db.Participant, participant_id).study_id
        return RedirectResponse(f"{pre}/study/{sid}", status_code=303)

    return r
