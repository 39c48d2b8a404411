"""The two requests a trial page sends most often, in a few Core statements each (and, below,
the trial state and the final save; joining a study is in `study.entry`).

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
import datetime as dt
import secrets
import types
import weakref

from sqlalchemy import and_, bindparam, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from . import db, rules
from .errors import (InvalidRatings, NotListened, StudyError, TrialClosed,
                     TrialNotFound, UnknownParticipant, UnknownStudy)
from .rawexec import fast

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
                         T.c.clip_id, T.c.last_beat_at, T.c.started_at, first_open.label("first_open"))
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
    return _fast(types.SimpleNamespace(
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
    ))


def _fast(ns: types.SimpleNamespace) -> types.SimpleNamespace:
    """Register every statement of `ns` (and of its per-dialect dicts) for the DB-API path
    (`study.rawexec`; statements it cannot run, such as RETURNING, stay with SQLAlchemy)."""
    for v in vars(ns).values():
        for stmt in (v.values() if isinstance(v, dict) else (v,)):
            fast(stmt)
    return ns


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


def _check_played(study, need: float, items: dict, labels: list[str]) -> None:
    """NotListened unless (when the study requires play) each of `labels` was fetched and played
    for `need` s, and the video was fetched."""
    if not study.require_play:
        return
    missing = [lab for lab in labels if items[lab].fetched_at is None or items[lab].listened_s + 1e-6 < need]
    video = next(iter(items.values())).video_fetched if items else False
    missing += [] if video else ["video"]
    if missing:
        raise NotListened(f"play every track for at least {need:g} s before rating it "
                          f"(not yet: {', '.join(missing)})")


def _upsert(conn: Connection, tid: int, rows: list[tuple[str, str, int]], now) -> None:
    if rows:
        conn.execute(Q.upsert[conn.dialect.name], [{"b_tid": tid, "b_label": lab, "b_axis": ax, "b_score": sc,
                                                    "b_now": now} for lab, ax, sc in rows])


def save_click(conn: Connection, token: str, public_id: str, ratings: dict[str, dict[str, int]]) -> None:
    """`service.submit_ratings(..., complete=False)`: upsert scores of the current trial."""
    row = _open_trial(conn, token, public_id)
    study, need, items = _context(conn, row)
    rows = rules.validate_ratings(study, set(items), ratings)
    _check_played(study, need, items, sorted({lab for lab, _, _ in rows}))
    now = db.utcnow()
    _upsert(conn, row.tid, rows, now)
    conn.execute(Q.touch, {"b_pid": row.pid, "b_now": now})


def listen_report(conn: Connection, token: str, public_id: str, kind: str, label: str, seconds: float,
                  started: bool = False) -> dict:
    """`listening.report`: credit a play report of the current trial; the credited time per label.
    `started`: the report is the first of a play segment (counted in `plays`, like a "play")."""
    if kind not in rules.KINDS:
        raise StudyError("unknown report kind")
    row = _open_trial(conn, token, public_id)
    study, need, items = _context(conn, row)
    if label not in items:
        raise StudyError("unknown track label")
    now = db.utcnow()
    item = items[label]
    credit = rules.credit(kind, seconds, now, row.last_beat_at or row.started_at, item.fetched_at is not None)
    conn.execute(Q.credit, {"b_id": item.id, "b_play": 1 if kind == "play" or started else 0, "b_credit": credit})
    conn.execute(Q.beat, {"b_tid": row.tid, "b_now": now, "b_now2": now})
    conn.execute(Q.touch, {"b_pid": row.pid, "b_now": now})
    conn.execute(Q.event, {"b_tid": row.tid, "b_label": label, "b_kind": kind, "b_seconds": round(credit, 3),
                           "b_now": now})
    listened = {lab: rules.shown_listened(it.listened_s + (credit if lab == label else 0.0))
                for lab, it in items.items()}
    return {"listened": listened, "min_listen_s": need}


# --------------------------------------------------------------------------- joining and the trial state
#
# `create_participant` (consent), `trial_state` (GET /state) and `complete_trial` (the final save,
# which answers the next state in the same transaction) do what service.create_participant,
# web.StudyApp.state and service.submit_ratings(complete=True) did through the ORM, in prebuilt
# Core statements: the plan's trials and items go in as two bulk inserts, and the balance counts
# are one aggregate over the counted participants' trials (study.service._counted).

S, C, K, CT = db.Study.__table__, db.Clip.__table__, db.Track.__table__, db.ClipTally.__table__


def _counted_core():
    """service._counted as Core, with the study id and the abandon cutoff as parameters."""
    return and_(P.c.study_id == bindparam("sid"), P.c.excluded.is_(False), P.c.is_preview.is_(False),
                or_(P.c.completed_at.is_not(None),
                    func.coalesce(P.c.last_active_at, P.c.created_at) >= bindparam("cutoff")))


def _going_core():
    """The counted participants who have not completed (active within the abandon cutoff): the
    index on (study_id, completed_at) reaches them without reading the completed ones."""
    return and_(P.c.study_id == bindparam("sid"), P.c.completed_at.is_(None), P.c.excluded.is_(False),
                P.c.is_preview.is_(False), func.coalesce(P.c.last_active_at, P.c.created_at) >= bindparam("cutoff"))


def _join_statements():
    counted = _counted_core()
    lock = select(S.c.id, S.c.closed_at, S.c.max_participants).where(S.c.id == bindparam("sid"))
    return _fast(types.SimpleNamespace(
        study={"sqlite": lock, "postgresql": lock.with_for_update()},   # one plan at a time per study
        study_by_id=select(S.c.id).where(S.c.id == bindparam("sid")),
        study_by_name=select(S.c.id).where(S.c.name == bindparam("name")).limit(1),
        study_newest=select(S.c.id).order_by(S.c.id.desc()).limit(1),
        by_external=select(P.c.id, P.c.token).where(P.c.study_id == bindparam("sid"),
                                                    P.c.external_id == bindparam("ext")),
        n_counted=select(func.count()).select_from(P).where(counted),
        going_counts=(select(T.c.clip_id, func.count()).select_from(P.join(T, T.c.participant_id == P.c.id))
                      .where(_going_core(), T.c.is_attention.is_(False)).group_by(T.c.clip_id)),
        done_counts=select(CT.c.clip_id, CT.c.done).select_from(CT.join(C, CT.c.clip_id == C.c.id))
        .where(C.c.study_id == bindparam("sid")),
        own_clips=(select(T.c.clip_id, func.count()).where(T.c.participant_id == bindparam("pid"),
                                                          T.c.is_attention.is_(False)).group_by(T.c.clip_id)),
        tally={name: _tally_upsert(insert) for name, insert in (("sqlite", sqlite_insert), ("postgresql", pg_insert))},
        lock_participant={"sqlite": select(P.c.id, P.c.completed_at, P.c.excluded, P.c.is_preview)
                          .where(P.c.id == bindparam("pid")),
                          "postgresql": select(P.c.id, P.c.completed_at, P.c.excluded, P.c.is_preview)
                          .where(P.c.id == bindparam("pid")).with_for_update()},
        clips=select(C.c.id).where(C.c.study_id == bindparam("sid")).order_by(C.c.id),
        tracks=(select(K.c.clip_id, K.c.system_id, K.c.id).select_from(K.join(C, K.c.clip_id == C.c.id))
                .where(C.c.study_id == bindparam("sid"), K.c.check_kind.is_(None))),
        new_participant=P.insert(),
        new_trials=T.insert().returning(T.c.id, sort_by_parameter_order=True),
        new_items=I.insert(),
        instructions=update(P).where(P.c.id == bindparam("b_pid")).values(
            instructions_done_at=func.coalesce(P.c.instructions_done_at, bindparam("b_now")),
            last_active_at=bindparam("b_now2")),
        # the state
        participant=select(P.c.id, P.c.study_id, P.c.completed_at, P.c.instructions_done_at, P.c.is_preview,
                           P.c.completion_code).where(P.c.token == bindparam("token")),
        next_trial=(select(T.c.id, T.c.public_id, T.c.order, T.c.video_token, T.c.clip_id, T.c.started_at)
                    .where(T.c.participant_id == bindparam("pid"), T.c.completed_at.is_(None))
                    .order_by(T.c.order).limit(1)),
        n_trials=select(func.count()).select_from(T).where(T.c.participant_id == bindparam("pid")),
        n_open=select(func.count()).select_from(T).where(T.c.participant_id == bindparam("pid"),
                                                         T.c.completed_at.is_(None)),
        start=update(T).where(T.c.id == bindparam("b_tid"), T.c.started_at.is_(None)).values(
            started_at=bindparam("b_now")),
        view_items=select(I.c.label, I.c.media_token, I.c.listened_s).where(I.c.trial_id == bindparam("tid"))
        .order_by(I.c.label),
        ratings=select(R.c.label, R.c.axis, R.c.score).where(R.c.trial_id == bindparam("tid")).order_by(R.c.id),
        # the final save
        complete=update(T).where(T.c.id == bindparam("b_tid")).values(completed_at=bindparam("b_now")),
        finish=update(P).where(P.c.id == bindparam("b_pid"), P.c.completed_at.is_(None)).values(
            completed_at=bindparam("b_now"), completion_code=bindparam("b_code"))
        .returning(P.c.excluded, P.c.is_preview),
    ))


def _tally_upsert(insert):
    ins = insert(CT).values(clip_id=bindparam("b_clip"), done=bindparam("b_n"))
    return ins.on_conflict_do_update(index_elements=[CT.c.clip_id], set_={"done": CT.c.done + ins.excluded.done})


J = _join_statements()


def study_id(conn: Connection, study: int | str | None = None) -> int:
    """service.get_study's lookup (by id, by name, or the newest study), the id only."""
    sid = None
    if study is None:
        sid = conn.execute(J.study_newest).scalar()
    elif isinstance(study, int) or (isinstance(study, str) and study.isdigit()):
        if 0 < int(study) < rules.MAX_DB_INT:
            sid = conn.execute(J.study_by_id, {"sid": int(study)}).scalar()
    else:
        sid = conn.execute(J.study_by_name, {"name": study}).scalar()
    if sid is None:
        raise UnknownStudy("no such study" if study is not None else "no study has been created yet")
    return sid


def _cutoff(study: _Study):
    return db.utcnow() - dt.timedelta(minutes=float(study.config.get("abandon_after_min", 60.0)))


def clip_counts(conn: Connection, sid: int) -> dict[int, int]:
    """service._clip_counts: times each clip (in id order) was given to a counted participant: the
    completed ones' tally (db.ClipTally) plus the trials of those still going. Neither grows with
    the number of participants who finished."""
    study = _study(conn, sid)
    clips = _cached(conn, ("clips", sid), lambda: conn.execute(J.clips, {"sid": sid}).scalars().all())
    counts = dict.fromkeys(clips, 0)
    for cid, n in conn.execute(J.done_counts, {"sid": sid}):
        counts[cid] += n
    for cid, n in conn.execute(J.going_counts, {"sid": sid, "cutoff": _cutoff(study)}):
        counts[cid] += n
    return counts


def tally(conn: Connection, pid: int, sign: int) -> None:
    """Add (sign 1) or take out (-1) participant `pid`'s trials in the completed participants' tally:
    in the transaction that completes them, or that (un)excludes a completed one."""
    rows = [{"b_clip": cid, "b_n": sign * n} for cid, n in conn.execute(J.own_clips, {"pid": pid})]
    if rows:
        conn.execute(J.tally[conn.dialect.name], rows)


def finish(conn: Connection, pid: int, now, code: str) -> bool:
    """Mark participant `pid` completed (once) and count them in the tally unless excluded or a preview;
    True when this call completed them. On PostgreSQL the UPDATE holds the row, so a concurrent
    exclusion (service.exclude_participant locks it too) sees the completion, or this sees the exclusion."""
    row = conn.execute(J.finish, {"b_pid": pid, "b_now": now, "b_code": code}).first()
    if row is None:
        return False
    if not row.excluded and not row.is_preview:
        tally(conn, pid, 1)
    return True


def _study(conn: Connection, sid: int) -> _Study:
    return _cached(conn, ("study", sid), lambda: _Study(conn.execute(Q.study, {"id": sid}).scalar()))


def _tracks(conn: Connection, sid: int) -> dict[int, dict[int, int]]:
    def load():
        out: dict[int, dict[int, int]] = {}
        for clip_id, system_id, track_id in conn.execute(J.tracks, {"sid": sid}):
            out.setdefault(clip_id, {})[system_id] = track_id
        return out
    return _cached(conn, ("tracks", sid), load)


def _public_config(conn: Connection, sid: int) -> dict:
    return _cached(conn, ("public", sid), lambda: rules.public_config(_study(conn, sid)))


def participant_state(conn: Connection, token: str):
    """(participant row, the state without the trial: config, done, instructions, completion)."""
    if not token or len(token) > 64:
        raise UnknownParticipant(_UNKNOWN)
    p = conn.execute(J.participant, {"token": token}).first()
    if p is None:
        raise UnknownParticipant(_UNKNOWN)
    study = _study(conn, p.study_id)
    out = {"config": dict(_public_config(conn, p.study_id)), "done": p.completed_at is not None,
           "instructions_done": p.instructions_done_at is not None, "preview": p.is_preview}
    if out["done"]:
        out["completion_code"] = p.completion_code
        url = study.config.get("completion_url")
        out["completion_url"] = url.format(code=p.completion_code) if url and not p.is_preview else None
    return p, out


def trial_state(conn: Connection, token: str, media_prefix: str = "/study/media/",
                after_instructions: bool = False) -> dict:
    """web.StudyApp.state(token): the participant's state with the current trial, marked as shown
    (with `after_instructions`, no trial before the instructions are done: the trial page's state)."""
    p, out = participant_state(conn, token)
    if out["done"] or (after_instructions and not out["instructions_done"]):
        return out
    study = _study(conn, p.study_id)
    t = conn.execute(J.next_trial, {"pid": p.id}).first()
    if t is None:
        return out
    if t.started_at is None:
        conn.execute(J.start, {"b_tid": t.id, "b_now": db.utcnow()})
    duration = _cached(conn, ("clip", t.clip_id), lambda: float(conn.execute(Q.clip, {"id": t.clip_id}).scalar()))
    saved: dict[str, dict[str, int]] = {}
    for label, axis, score in conn.execute(J.ratings, {"tid": t.id}):
        saved.setdefault(label, {})[axis] = score
    items = conn.execute(J.view_items, {"tid": t.id}).all()
    out["trial"] = {
        "trial_id": t.public_id,
        "index": t.order,
        "total": conn.execute(J.n_trials, {"pid": p.id}).scalar(),
        "video": media_prefix + t.video_token,
        "tracks": [{"label": it.label, "url": media_prefix + it.media_token} for it in items],
        "ratings": saved,
        "listened": {it.label: rules.shown_listened(it.listened_s) for it in items},
        "min_listen_s": study.min_listen(duration),
    }
    return out


def complete_trial(conn: Connection, token: str, public_id: str, ratings: dict[str, dict[str, int]]) -> None:
    """service.submit_ratings(..., complete=True): store the scores of the current trial and close it
    (every label x axis rated, every track played); after the last trial the participant is done."""
    row = _open_trial(conn, token, public_id)
    study, need, items = _context(conn, row)
    rows = rules.validate_ratings(study, set(items), ratings)
    _check_played(study, need, items, sorted(items))
    now = db.utcnow()
    _upsert(conn, row.tid, rows, now)
    have = {(r.label, r.axis) for r in conn.execute(J.ratings, {"tid": row.tid})}
    axes = [a["key"] for a in study.config["axes"]]
    gaps = [f"{lab}/{ax}" for lab in sorted(items) for ax in axes if (lab, ax) not in have]
    if gaps:
        raise InvalidRatings(f"missing ratings: {', '.join(gaps)}")
    conn.execute(J.complete, {"b_tid": row.tid, "b_now": now})
    conn.execute(Q.touch, {"b_pid": row.pid, "b_now": now})
    if conn.execute(J.n_open, {"pid": row.pid}).scalar() == 0:
        finish(conn, row.pid, now, study.config.get("completion_code") or secrets.token_hex(4).upper())
