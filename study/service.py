"""Service layer: studies, participants, trials, ratings, exclusion, export.

Plain functions over a SQLAlchemy Session. Functions that write expect a session from
`db.write_session(engine)` (BEGIN IMMEDIATE on SQLite, commit on exit); read-only ones
take any session. Errors are `StudyError` subclasses (study.errors) with messages safe to
show and an HTTP status.

    engine = db.make_engine("sqlite:///study.db")
    with db.write_session(engine) as s:
        p = create_participant(s, study_id, external_id="PROLIFIC123")   # consent given
        token = p.token
    with db.write_session(engine) as s:
        t = next_trial(s, token)      # the media must be fetched and played first (study.listening)
        submit_ratings(s, token, t.id, {"A": {"overall": 4, "sync": 3, "quality": 5}, ...})
    with db.read_session(engine) as s:
        df = export_ratings(s, study_id)

Integrity rules enforced here: participants exist only with consent; one participant per
PROLIFIC_PID and study (the same id resumes); trials complete in order and a completed
trial's scores never change; with `require_play` every track must have been fetched and
played for the study's minimum (server-credited, see study.listening) before it is rated.
"""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from . import db
from .errors import (  # noqa: F401  (re-exported: callers catch service.StudyError etc.)
    ConsentRequired, InvalidRatings, NotListened, StudyClosed, StudyError, TrialClosed, TrialNotFound,
    UnknownParticipant, UnknownStudy,
)
from .rules import MAX_DB_INT, public_config, shown_listened  # noqa: F401  (re-exported)
from .rules import validate_ratings as _validate
from .export import EXPORT_COLUMNS, listening_frame, mos_table, ratings_frame, write_export  # noqa: F401



# --------------------------------------------------------------------------- studies

def get_study(session: Session, study: int | str | None = None) -> db.Study:
    """A study by id or name; None picks the only (or newest) study."""
    row = None
    if study is None:
        row = session.scalars(select(db.Study).order_by(db.Study.id.desc())).first()
    elif isinstance(study, int) or (isinstance(study, str) and study.isdigit()):
        if 0 < int(study) < MAX_DB_INT:
            row = session.get(db.Study, int(study))
    else:
        row = session.scalars(select(db.Study).where(db.Study.name == study)).first()
    if row is None:
        raise UnknownStudy("no such study" if study is not None else "no study has been created yet")
    return row


def _counted(study: db.Study, now: dt.datetime | None = None):
    """SQL condition: participants that count for balance and the cap (not excluded, not a
    preview, and completed or active within the study's abandon_after_min)."""
    minutes = float(study.config.get("abandon_after_min", 60.0))
    cutoff = (now or db.utcnow()) - dt.timedelta(minutes=minutes)
    return and_(db.Participant.study_id == study.id, db.Participant.excluded.is_(False),
                db.Participant.is_preview.is_(False),
                or_(db.Participant.completed_at.is_not(None),
                    func.coalesce(db.Participant.last_active_at, db.Participant.created_at) >= cutoff))


def counted_participants(session: Session, study: db.Study) -> int:
    return session.scalar(select(func.count()).select_from(db.Participant).where(_counted(study)))


def check_open(session: Session, study: db.Study) -> None:
    """Raise StudyClosed when the study is closed or its cap of participants is reached."""
    from . import entry
    entry.check_open(session.connection(), study)


def _clip_counts(session: Session, study: db.Study) -> dict[int, int]:
    """Times each clip was given to a counted participant (balanced design)."""
    from . import hotpath
    return hotpath.clip_counts(session.connection(), study.id)


# --------------------------------------------------------------------------- participants

def find_by_external_id(session: Session, study_id: int, external_id: str) -> db.Participant | None:
    return session.scalars(select(db.Participant).where(db.Participant.study_id == study_id,
                                                        db.Participant.external_id == external_id)).first()


def create_participant(session: Session, study_id: int, external_id: str | None = None, *,
                       external_study_id: str | None = None, external_session_id: str | None = None,
                       seed: int | None = None, consent: bool = True, preview: bool = False) -> db.Participant:
    """A participant (who gave consent) with a stored seed and their planned trials.

    The same `external_id` (PROLIFIC_PID) in the same study returns the existing participant,
    who resumes. A closed or full study raises StudyClosed (previews are always allowed and
    never counted). Clips are the least shown among counted participants (balanced design);
    trial order and each trial's label -> track mapping follow from the seed. Use a
    `db.write_session` so reading the counts and writing the plan is atomic.
    """
    from . import entry   # the plan in a few Core statements
    session.flush()
    pid, _ = entry.create_participant(session.connection(), study_id, external_id,
                                      external_study_id=external_study_id,
                                      external_session_id=external_session_id, seed=seed, consent=consent,
                                      preview=preview)
    return session.get(db.Participant, pid)


def find_participant(session: Session, token: str | None) -> db.Participant | None:
    if not token or len(token) > 64:
        return None
    return session.scalars(select(db.Participant).where(db.Participant.token == token)).first()


def get_participant(session: Session, token: str) -> db.Participant:
    p = find_participant(session, token)
    if p is None:
        raise UnknownParticipant("unknown participant; please start again from the study link")
    return p


def finish_instructions(session: Session, token: str) -> None:
    p = get_participant(session, token)
    if p.instructions_done_at is None:
        p.instructions_done_at = db.utcnow()
    p.last_active_at = db.utcnow()


def next_trial(session: Session, token: str) -> db.Trial | None:
    """The first trial not yet completed, or None when the participant is done."""
    p = get_participant(session, token)
    return session.scalars(
        select(db.Trial).where(db.Trial.participant_id == p.id, db.Trial.completed_at.is_(None))
        .order_by(db.Trial.order).options(selectinload(db.Trial.items), selectinload(db.Trial.ratings))
    ).first()


def start_trial(session: Session, trial: db.Trial) -> None:
    """Mark when a trial was first shown (the export's time spent counts from here)."""
    if trial.started_at is None:
        trial.started_at = db.utcnow()


def min_listen(study: db.Study, clip: db.Clip) -> float:
    """Seconds each track of `clip` must play before it can be rated (0 without require_play)."""
    if not study.config.get("require_play", True):
        return 0.0
    return min(float(study.config.get("min_listen_s", 0.0)), float(clip.duration))


def trial_view(session: Session, trial: db.Trial, media_prefix: str = "/study/media/") -> dict:
    """What the trial page may know: labels, opaque media URLs, saved scores, play time credited.
    No names, no database ids."""
    n_total = session.scalar(select(func.count()).where(db.Trial.participant_id == trial.participant_id))
    saved: dict[str, dict[str, int]] = {}
    for r in trial.ratings:
        saved.setdefault(r.label, {})[r.axis] = r.score
    study = session.get(db.Study, session.get(db.Participant, trial.participant_id).study_id)
    return {
        "trial_id": trial.public_id,
        "index": trial.order,
        "total": n_total,
        "video": media_prefix + trial.video_token,
        "tracks": [{"label": it.label, "url": media_prefix + it.media_token} for it in trial.items],
        "ratings": saved,
        "listened": {it.label: shown_listened(it.listened_s) for it in trial.items},
        "min_listen_s": min_listen(study, session.get(db.Clip, trial.clip_id)),
    }


def find_trial(session: Session, p: db.Participant, trial_ref: int | str) -> db.Trial:
    """This participant's trial by database id (int) or public id (str)."""
    if isinstance(trial_ref, int):
        cond = db.Trial.id == trial_ref if 0 < trial_ref < MAX_DB_INT else db.Trial.id.is_(None)
    else:
        cond = db.Trial.public_id == str(trial_ref)
    trial = session.scalars(select(db.Trial).where(cond, db.Trial.participant_id == p.id)
                            .options(selectinload(db.Trial.items), selectinload(db.Trial.ratings))).first()
    if trial is None:
        raise TrialNotFound("no such trial for this participant")
    return trial


def check_next(session: Session, trial: db.Trial) -> None:
    """TrialClosed unless `trial` is its participant's next one (not completed, none open before it)."""
    if trial.completed_at is not None:
        raise TrialClosed("this trial is already completed; its scores cannot change")
    earlier = session.scalar(select(db.Trial.id).where(
        db.Trial.participant_id == trial.participant_id, db.Trial.order < trial.order,
        db.Trial.completed_at.is_(None)).limit(1))
    if earlier is not None:
        raise TrialClosed("trials are completed in order; finish the current trial first")


def open_trial(session: Session, p: db.Participant, trial_ref: int | str) -> db.Trial:
    """The trial if it is this participant's next one; TrialClosed if completed or out of order."""
    trial = find_trial(session, p, trial_ref)
    check_next(session, trial)
    return trial


def not_listened(session: Session, study: db.Study, trial: db.Trial, labels) -> list[str]:
    """Labels (and "video") whose media were not fetched or not played for the minimum."""
    need = min_listen(study, trial.clip)
    if not study.config.get("require_play", True):
        return []
    items = {it.label: it for it in trial.items}
    out = [lab for lab in sorted(labels)
           if items[lab].fetched_at is None or items[lab].listened_s + 1e-6 < need]
    video = session.scalar(select(func.count()).select_from(db.ListenEvent).where(
        db.ListenEvent.trial_id == trial.id, db.ListenEvent.label.is_(None), db.ListenEvent.kind == "fetch"))
    return out + ([] if video else ["video"])


def submit_ratings(session: Session, participant_token: str, trial_id: int | str,
                   ratings: dict[str, dict[str, int]], complete: bool = True) -> db.Trial:
    """Store (or update) scores for this participant's current trial.

    `trial_id` is the database id (int) or the public id the browser sees (str). `ratings` is
    {label: {axis: score}}. Scores upsert on (trial, label, axis) until the trial is completed;
    with `complete=True` every label x axis must be rated, the trial is marked done (its scores
    are then immutable), and after the last trial the participant gets a completion code.
    Raises TrialNotFound (not this participant's), TrialClosed (completed, or not the next
    trial), NotListened (a rated track not fetched / played enough), InvalidRatings.
    """
    p = get_participant(session, participant_token)
    trial = open_trial(session, p, trial_id)
    db.lock_for_update(session, trial)  # PostgreSQL: one save of a trial at a time
    study = session.get(db.Study, p.study_id)
    labels = {it.label for it in trial.items}
    rows = _validate(study, labels, ratings)
    missing = not_listened(session, study, trial, labels if complete else {lab for lab, _, _ in rows})
    if missing:
        raise NotListened(f"play every track for at least {min_listen(study, trial.clip):g} s before rating "
                          f"it (not yet: {', '.join(missing)})")
    existing = {(r.label, r.axis): r for r in trial.ratings}
    now = db.utcnow()
    p.last_active_at = now
    for label, axis, score in rows:
        r = existing.get((label, axis))
        if r is None:
            r = db.Rating(trial=trial, label=label, axis=axis, score=score, rated_at=now)
            session.add(r)
            existing[(label, axis)] = r
        elif r.score != score:
            r.score, r.rated_at = score, now
    if complete:
        axes = [a["key"] for a in study.config["axes"]]
        gaps = [f"{lab}/{ax}" for lab in sorted(labels) for ax in axes if (lab, ax) not in existing]
        if gaps:
            raise InvalidRatings(f"missing ratings: {', '.join(gaps)}")
        trial.completed_at = now
        session.flush()
        left = session.scalar(select(func.count()).where(db.Trial.participant_id == p.id,
                                                         db.Trial.completed_at.is_(None)))
        if left == 0 and p.completed_at is None:
            from . import hotpath   # completed_at, the code and the balance tally (db.ClipTally)
            code = study.config.get("completion_code") or secrets.token_hex(4).upper()
            if hotpath.finish(session.connection(), p.id, now, code):
                session.expire(p, ["completed_at", "completion_code", "excluded"])
    session.flush()
    return trial


def exclude_participant(session: Session, participant_id: int, excluded: bool = True,
                        reason: str | None = None) -> None:
    # the row locked (PostgreSQL) and read fresh: a completion at the same time sees this, or this sees it
    p = (session.get(db.Participant, int(participant_id), with_for_update=True, populate_existing=True)
         if 0 < int(participant_id) < MAX_DB_INT else None)
    if p is None:
        raise UnknownParticipant("no such participant")
    if p.completed_at is not None and not p.is_preview and bool(p.excluded) != bool(excluded):
        from . import hotpath   # the completed participants' balance tally (db.ClipTally)
        session.flush()
        hotpath.tally(session.connection(), p.id, -1 if excluded else 1)
    p.excluded, p.exclusion_reason = bool(excluded), (reason if excluded else None)


def set_study_status(session: Session, study_id: int, closed: bool, max_participants: int | None) -> None:
    """Close / reopen a study and set (or clear, with None) its cap on participants."""
    study = get_study(session, study_id)
    study.closed_at = (study.closed_at or db.utcnow()) if closed else None
    study.max_participants = max_participants


def export_ratings(session: Session, study_id: int | str | None = None):
    """All scores of a study (by id or name) in long format, one row per score (export.EXPORT_COLUMNS),
    with the listening log per track; previews are left out."""
    return ratings_frame(session, get_study(session, study_id))


def export_listening(session: Session, study_id: int | str | None = None):
    """The raw listening log of a study: one row per media fetch and play report."""
    return listening_frame(session, get_study(session, study_id))


def study_progress(session: Session, study_id: int) -> dict:
    """Counts for the admin page (previews are listed apart and never counted)."""
    study = get_study(session, study_id)
    ps = session.scalars(select(db.Participant).where(db.Participant.study_id == study_id)
                         .order_by(db.Participant.id)).all()
    real = [p for p in ps if not p.is_preview]
    return {
        "started": len(real),
        "finished": sum(p.completed_at is not None for p in real),
        "excluded": sum(bool(p.excluded) for p in real),
        "counted": counted_participants(session, study),
        "previews": len(ps) - len(real),
        "participants": real,
    }
