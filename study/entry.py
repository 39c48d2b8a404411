"""Joining a study, in Core statements: the landing page's lookups, the open check and a new
participant with their planned trials.

A participant's start is the landing page, the consent post (a new participant and their plan)
and the instructions. `service.get_study`, `find_participant`, `check_open` and
`create_participant` do the same through the ORM; these run a few prepared statements
(`hotpath.J`) with the study's fixed config cached per process. Same rules, same errors, same
rows: tests/study/test_study_join_state.py runs both on the same requests and compares.
"""

from __future__ import annotations

import dataclasses

from sqlalchemy.engine import Connection

from . import db, design, rules
from .errors import ConsentRequired, StudyClosed, UnknownStudy
from .hotpath import J, _cutoff, _public_config, _study, _tracks, clip_counts, study_id

_CLOSED = "this study is closed; thank you for your interest"
_FULL = "this study has all the participants it needs; thank you for your interest"


@dataclasses.dataclass(frozen=True)
class Landing:
    """What the landing page does: resume `token` (with `set_cookie` when it was found by the
    external id, so a new browser keeps it), or show the consent page of study `sid`."""
    sid: int
    token: str | None = None
    set_cookie: bool = False
    config: dict | None = None     # the public config, for the consent page


def check_open(conn: Connection, row) -> None:
    """service.check_open on a `J.study` row: StudyClosed when closed or full."""
    if row.closed_at is not None:
        raise StudyClosed(_CLOSED)
    if row.max_participants is not None and conn.execute(
            J.n_counted, {"sid": row.id, "cutoff": _cutoff(_study(conn, row.id))}).scalar() >= row.max_participants:
        raise StudyClosed(_FULL)


def landing(conn: Connection, study: int | str | None, cookie_token: str | None,
            external_id: str | None) -> Landing:
    """The landing page's decision: a participant of this study (by the cookie, then by the
    external id) resumes; anyone else sees the consent page, if the study is open."""
    sid = study_id(conn, study)
    if cookie_token and len(cookie_token) <= 64:
        p = conn.execute(J.participant, {"token": cookie_token}).first()
        if p is not None and p.study_id == sid:
            return Landing(sid, token=cookie_token)
    if external_id:
        p = conn.execute(J.by_external, {"sid": sid, "ext": external_id}).first()
        if p is not None:       # the same PROLIFIC_PID resumes, in any browser
            return Landing(sid, token=p.token, set_cookie=True)
    check_open(conn, conn.execute(J.study["sqlite"], {"sid": sid}).first())   # a read: no lock
    return Landing(sid, config=_public_config(conn, sid))


def create_participant(conn: Connection, sid: int, external_id: str | None = None, *,
                       external_study_id: str | None = None, external_session_id: str | None = None,
                       seed: int | None = None, consent: bool = True, preview: bool = False) -> tuple[int, str]:
    """service.create_participant: (id, token) of a new participant with their planned trials, or of
    the existing one with this `external_id` in this study. Same rules and errors."""
    if not consent:
        raise ConsentRequired("consent is needed before the study can start")
    if not isinstance(sid, int) or isinstance(sid, bool) or not 0 < sid < rules.MAX_DB_INT:
        sid = study_id(conn, sid if isinstance(sid, str) else str(sid))
    row = conn.execute(J.study[conn.dialect.name], {"sid": sid}).first()   # FOR UPDATE on PostgreSQL
    if row is None:
        raise UnknownStudy("no such study")
    if external_id and not preview:
        existing = conn.execute(J.by_external, {"sid": sid, "ext": external_id}).first()
        if existing is not None:
            return existing.id, existing.token
    if not preview:
        check_open(conn, row)
    cfg = _study(conn, sid).config
    seed = design.new_seed() if seed is None else int(seed)
    checks = [design.CheckOption(c["clip_id"], c["track_id"], c["replaces_system_id"])
              for c in cfg.get("checks", [])]
    plans = design.plan_trials(seed, clip_counts(conn, sid), cfg["trials_per_participant"],
                               _tracks(conn, sid), checks, cfg.get("checks_per_participant", 0))
    now = db.utcnow()
    token = design.new_token()
    pid = conn.execute(J.new_participant, {
        "study_id": sid, "token": token, "seed": seed, "external_id": None if preview else external_id,
        "external_study_id": external_study_id, "external_session_id": external_session_id,
        "created_at": now, "consent_at": now, "is_preview": preview, "excluded": False,
        "last_active_at": now}).inserted_primary_key[0]
    if plans:
        tids = conn.execute(J.new_trials, [
            {"participant_id": pid, "clip_id": plan.clip_id, "order": order, "is_attention": plan.is_attention,
             "video_token": design.new_token(), "public_id": design.new_token(18)}
            for order, plan in enumerate(plans)]).scalars().all()
        conn.execute(J.new_items, [
            {"trial_id": tid, "label": label, "track_id": track_id, "media_token": design.new_token(),
             "listened_s": 0.0, "plays": 0}
            for tid, plan in zip(tids, plans) for label, track_id in plan.mapping.items()])
    return pid, token


def finish_instructions(conn: Connection, pid: int) -> None:
    now = db.utcnow()
    conn.execute(J.instructions, {"b_pid": pid, "b_now": now, "b_now2": now})
