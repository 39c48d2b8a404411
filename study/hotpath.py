"""The two requests a trial page sends most often, in a few Core statements each.

A trial page saves every click (`save_click`) and reports about once a second while a track
plays (`listen_report`). `service.submit_ratings(complete=False)` and `listening.report` do the
same through the ORM in about a dozen statements; here it is four to six in one transaction,
with the study's fixed settings (axes, scale, listening minimum) and clip lengths cached per
process (they never change after `study create`). Same rules, same errors, same rows:
tests/study/test_study_hotpath.py runs both on the same requests and compares.

Both take a connection from `db.write_connection(engine)`. On PostgreSQL the trial row is
locked (FOR UPDATE), so two reports or saves of one trial never interleave; on SQLite,
BEGIN IMMEDIATE already serialises writers.
"""

from __future__ import annotations

import dataclasses
import types
import weakref

from sqlalchemy import and_, bindparam, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from . import db, listening, service
from .errors import NotListened, StudyError, TrialClosed, TrialNotFound, UnknownParticipant

P, T, I, R, E = (db.Participant.__table__, db.Trial.__table__, db.TrialItem.__table__, db.Rating.__table__,
                 db.ListenEvent.__table__)


@dataclasses.dataclass(frozen=True)
class _Study:
    config: dict            # service._validate reads .config

    @property
    def require_play(self) -> bool:
        return bool(self.config.get("require_play", True))

    def min_listen(self, clip_duration: float) -> float:
        return min(float(self.config.get("min_listen_s", 0.0)), clip_duration) if self.require_play else 0.0


_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()   # engine -> {key: value}


def _cached(conn: Connection, key: tuple, load):
    per_engine = _CACHE.setdefault(conn.engine, {})
    if key not in per_engine:
        per_engine[key] = load()
    return per_engine[key]


def _statements():
    """Built once: building a statement costs more than running it on SQLite."""
    t2 = T.alias("open_trial")
    first_open = (select(func.min(t2.c.order)).where(t2.c.participant_id == P.c.id, t2.c.completed_at.is_(None))
                  .correlate(P).scalar_subquery())
    open_trial = (select(P.c.id.label("pid"), P.c.study_id, T.c.id.label("tid"), T.c.order, T.c.completed_at,
                         T.c.clip_id, T.c.last_beat_at, first_open.label("first_open"))
                  .select_from(P.join(T, and_(T.c.participant_id == P.c.id, T.c.public_id == bindparam("public_id"))))
                  .where(P.c.token == bindparam("token")))
    video = exists().where(E.c.trial_id == I.c.trial_id, E.c.label.is_(None), E.c.kind == "fetch")
    upserts = {}
    for name, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert)):
        ins = insert(R).values(trial_id=bindparam("b_tid"), label=bindparam("b_label"), axis=bindparam("b_axis"),
                               score=bindparam("b_score"), rated_at=bindparam("b_now"))
        upserts[name] = ins.on_conflict_do_update(
            index_elements=[R.c.trial_id, R.c.label, R.c.axis],
            set_={"score": ins.excluded.score, "rated_at": ins.excluded.rated_at}, where=R.c.score != ins.excluded.score)
    return types.SimpleNamespace(
        open_trial={"sqlite": open_trial, "postgresql": open_trial.with_for_update(of=T)},
        participant=select(P.c.id).where(P.c.token == bindparam("token")),
        items=select(I.c.id, I.c.label, I.c.fetched_at, I.c.listened_s, video.label("video_fetched"))
        .where(I.c.trial_id == bindparam("tid")),
        study=select(db.Study.__table__.c.config).where(db.Study.__table__.c.id == bindparam("id")),
        clip=select(db.Clip.__table__.c.duration).where(db.Clip.__table__.c.id == bindparam("id")),
        upsert=upserts,
        touch=update(P).where(P.c.id == bindparam("b_pid")).values(last_active_at=bindparam("b_now")),
        credit=update(I).where(I.c.id == bindparam("b_id")).values(
            plays=I.c.plays + bindparam("b_play"), listened_s=I.c.listened_s + bindparam("b_credit")),
        beat=update(T).where(T.c.id == bindparam("b_tid")).values(
            last_beat_at=bindparam("b_now"), started_at=func.coalesce(T.c.started_at, bindparam("b_now2"))),
        event=E.insert().values(trial_id=bindparam("b_tid"), label=bindparam("b_label"), kind=bindparam("b_kind"),
                                seconds=bindparam("b_seconds"), at=bindparam("b_now")),
    )


Q = _statements()
_UNKNOWN = "unknown participant; please start again from the study link"


def _open_trial(conn: Connection, token: str, public_id: str):
    """The participant's trial row if it is their next open one; the service's errors otherwise."""
    if not token or len(token) > 64:
        raise UnknownParticipant(_UNKNOWN)
    row = conn.execute(Q.open_trial[conn.dialect.name], {"token": token, "public_id": public_id}).first()
    if row is None:
        if conn.execute(Q.participant, {"token": token}).first() is None:
            raise UnknownParticipant(_UNKNOWN)
        raise TrialNotFound("no such trial for this participant")
    if row.completed_at is not None:
        raise TrialClosed("this trial is already completed; its scores cannot change")
    if row.order != row.first_open:
        raise TrialClosed("trials are completed in order; finish the current trial first")
    return row


def _context(conn: Connection, row) -> tuple[_Study, float, dict]:
    study = _cached(conn, ("study", row.study_id), lambda: _Study(conn.execute(Q.study, {"id": row.study_id}).scalar()))
    duration = _cached(conn, ("clip", row.clip_id),
                       lambda: float(conn.execute(Q.clip, {"id": row.clip_id}).scalar()))
    items = {r.label: r for r in conn.execute(Q.items, {"tid": row.tid})}
    return study, study.min_listen(duration), items


def save_click(conn: Connection, token: str, public_id: str, ratings: dict[str, dict[str, int]]) -> None:
    """`service.submit_ratings(..., complete=False)`: upsert scores of the current trial."""
    row = _open_trial(conn, token, public_id)
    study, need, items = _context(conn, row)
    rows = service._validate(study, set(items), ratings)
    if study.require_play:
        rated = sorted({lab for lab, _, _ in rows})
        missing = [lab for lab in rated if items[lab].fetched_at is None or items[lab].listened_s + 1e-6 < need]
        video = next(iter(items.values())).video_fetched if items else False
        missing += [] if video else ["video"]
        if missing:
            raise NotListened(f"play every track for at least {need:g} s before rating it "
                              f"(not yet: {', '.join(missing)})")
    now = db.utcnow()
    if rows:
        conn.execute(Q.upsert[conn.dialect.name], [{"b_tid": row.tid, "b_label": lab, "b_axis": ax, "b_score": sc,
                                                    "b_now": now} for lab, ax, sc in rows])
    conn.execute(Q.touch, {"b_pid": row.pid, "b_now": now})


def listen_report(conn: Connection, token: str, public_id: str, kind: str, label: str, seconds: float) -> dict:
    """`listening.report`: credit a play report of the current trial; the credited time per label."""
    if kind not in listening.KINDS:
        raise StudyError("unknown report kind")
    row = _open_trial(conn, token, public_id)
    study, need, items = _context(conn, row)
    if label not in items:
        raise StudyError("unknown track label")
    now = db.utcnow()
    item = items[label]
    credit = 0.0
    if kind != "play" and row.last_beat_at is not None and item.fetched_at is not None:
        elapsed = max(0.0, (now - row.last_beat_at).total_seconds())
        credit = max(0.0, min(float(seconds), elapsed, listening.MAX_BEAT_S))
    conn.execute(Q.credit, {"b_id": item.id, "b_play": 1 if kind == "play" else 0, "b_credit": credit})
    conn.execute(Q.beat, {"b_tid": row.tid, "b_now": now, "b_now2": now})
    conn.execute(Q.touch, {"b_pid": row.pid, "b_now": now})
    conn.execute(Q.event, {"b_tid": row.tid, "b_label": label, "b_kind": kind, "b_seconds": round(credit, 3),
                           "b_now": now})
    listened = {lab: service.shown_listened(it.listened_s + (credit if lab == label else 0.0))
                for lab, it in items.items()}
    return {"listened": listened, "min_listen_s": need}
