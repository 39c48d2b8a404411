"""Service layer: participants, trials, ratings, exclusion, export.

Plain functions over a SQLAlchemy Session. Functions that write expect a session from
`db.write_session(engine)` (BEGIN IMMEDIATE on SQLite, commit on exit); read-only ones
take any session. Errors are `StudyError` subclasses with messages safe to show.

    engine = db.make_engine("sqlite:///study.db")
    with db.write_session(engine) as s:
        p = create_participant(s, study_id, external_id="PROLIFIC123")
        token = p.token
    with db.write_session(engine) as s:
        t = next_trial(s, token)
        submit_ratings(s, token, t.id, {"A": {"overall": 4, "sync": 3, "quality": 5}, ...})
    with db.read_session(engine) as s:
        df = export_ratings(s, study_id)
"""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from . import db, design

EXPORT_COLUMNS = [
    "participant_id", "external_id", "trial_id", "trial_order", "clip", "system", "label",
    "axis", "score", "rated_at", "attention_check", "excluded",
    # extra context
    "study", "check_kind", "attention_trial", "trial_completed", "participant_completed",
]


class StudyError(ValueError):
    """Base class; the message is safe to show a participant."""


class UnknownStudy(StudyError):
    pass


class UnknownParticipant(StudyError):
    pass


class TrialNotFound(StudyError):
    """No such trial for this participant (also when it belongs to someone else)."""


class InvalidRatings(StudyError):
    pass


# --------------------------------------------------------------------------- studies

def get_study(session: Session, study: int | str | None = None) -> db.Study:
    """A study by id or name; None picks the only (or newest) study."""
    if study is None:
        row = session.scalars(select(db.Study).order_by(db.Study.id.desc())).first()
    elif isinstance(study, int) or (isinstance(study, str) and study.isdigit()):
        row = session.get(db.Study, int(study))
    else:
        row = session.scalars(select(db.Study).where(db.Study.name == study)).first()
    if row is None:
        raise UnknownStudy(f"no study {study!r}" if study is not None else "no study has been created yet")
    return row


def public_config(study: db.Study) -> dict:
    """The parts of a study's config the participant pages may see (no systems, no paths)."""
    c = study.config
    return {k: c.get(k) for k in ("title", "axes", "scale", "instructions", "consent",
                                  "require_play", "crossfade_ms")}


# --------------------------------------------------------------------------- participants

def _clip_counts(session: Session, study_id: int) -> dict[int, int]:
    counts = {cid: 0 for cid in session.scalars(select(db.Clip.id).where(db.Clip.study_id == study_id))}
    rows = session.execute(
        select(db.Trial.clip_id, func.count())
        .join(db.Participant, db.Trial.participant_id == db.Participant.id)
        .where(db.Participant.study_id == study_id, db.Participant.excluded.is_(False),
               db.Trial.is_attention.is_(False))
        .group_by(db.Trial.clip_id))
    for cid, n in rows:
        counts[cid] = n
    return counts


def create_participant(session: Session, study_id: int, external_id: str | None = None, *,
                       external_study_id: str | None = None, external_session_id: str | None = None,
                       seed: int | None = None, consent: bool = True) -> db.Participant:
    """Create a participant with a stored seed and their planned trials.

    Clips are the least shown so far among non-excluded participants (balanced design);
    trial order and each trial's label -> track mapping follow from the seed.
    Use a `db.write_session` so reading the counts and writing the plan is atomic.
    """
    study = get_study(session, study_id)
    cfg = study.config
    seed = design.new_seed() if seed is None else int(seed)
    tracks: dict[int, dict[int, int]] = {}
    for t in session.scalars(select(db.Track).join(db.Clip).where(
            db.Clip.study_id == study.id, db.Track.check_kind.is_(None))):
        tracks.setdefault(t.clip_id, {})[t.system_id] = t.id
    checks = [design.CheckOption(c["clip_id"], c["track_id"], c["replaces_system_id"])
              for c in cfg.get("checks", [])]
    plans = design.plan_trials(seed, _clip_counts(session, study.id), cfg["trials_per_participant"],
                               tracks, checks, cfg.get("checks_per_participant", 0))
    now = db.utcnow()
    p = db.Participant(study_id=study.id, token=design.new_token(), seed=seed,
                       external_id=external_id, external_study_id=external_study_id,
                       external_session_id=external_session_id, consent_at=now if consent else None)
    session.add(p)
    for order, plan in enumerate(plans):
        trial = db.Trial(participant=p, clip_id=plan.clip_id, order=order, is_attention=plan.is_attention,
                         video_token=design.new_token(), public_id=design.new_token(18))
        session.add(trial)
        for label, track_id in plan.mapping.items():
            session.add(db.TrialItem(trial=trial, label=label, track_id=track_id,
                                     media_token=design.new_token()))
    session.flush()
    return p


def get_participant(session: Session, token: str) -> db.Participant:
    p = session.scalars(select(db.Participant).where(db.Participant.token == token)).first() if token else None
    if p is None:
        raise UnknownParticipant("unknown participant; please start again from the study link")
    return p


def finish_instructions(session: Session, token: str) -> None:
    p = get_participant(session, token)
    if p.instructions_done_at is None:
        p.instructions_done_at = db.utcnow()


def next_trial(session: Session, token: str) -> db.Trial | None:
    """The first trial not yet completed, or None when the participant is done."""
    p = get_participant(session, token)
    return session.scalars(
        select(db.Trial).where(db.Trial.participant_id == p.id, db.Trial.completed_at.is_(None))
        .order_by(db.Trial.order).options(selectinload(db.Trial.items), selectinload(db.Trial.ratings))
    ).first()


def trial_view(session: Session, trial: db.Trial, media_prefix: str = "/study/media/") -> dict:
    """What the trial page may know: labels, opaque media URLs, saved scores. No names."""
    n_total = session.scalar(select(func.count()).where(db.Trial.participant_id == trial.participant_id))
    saved: dict[str, dict[str, int]] = {}
    for r in trial.ratings:
        saved.setdefault(r.label, {})[r.axis] = r.score
    return {
        "trial_id": trial.id,
        "index": trial.order,
        "total": n_total,
        "video": media_prefix + trial.video_token,
        "tracks": [{"label": it.label, "url": media_prefix + it.media_token} for it in trial.items],
        "ratings": saved,
    }


def _validate(study: db.Study, labels: set[str], ratings: dict) -> list[tuple[str, str, int]]:
    cfg = study.config
    axes = {a["key"] for a in cfg["axes"]}
    lo, hi = cfg["scale"]["min"], cfg["scale"]["max"]
    if not isinstance(ratings, dict):
        raise InvalidRatings("ratings must map labels to {axis: score}")
    out = []
    for label, by_axis in ratings.items():
        if label not in labels:
            raise InvalidRatings(f"unknown label {label!r}")
        if not isinstance(by_axis, dict):
            raise InvalidRatings(f"ratings for {label!r} must map axes to scores")
        for axis, score in by_axis.items():
            if axis not in axes:
                raise InvalidRatings(f"unknown axis {axis!r}")
            if isinstance(score, bool) or not isinstance(score, int) or not lo <= score <= hi:
                raise InvalidRatings(f"score {score!r} for {label}/{axis} is not an integer in {lo}..{hi}")
            out.append((label, axis, score))
    return out


def submit_ratings(session: Session, participant_token: str, trial_id: int,
                   ratings: dict[str, dict[str, int]], complete: bool = True) -> db.Trial:
    """Store (or update) scores for one trial of this participant.

    `ratings` is {label: {axis: score}}. Scores upsert on (trial, label, axis), so a repeated
    submission leaves one row. With `complete=True` every label x axis must then be rated,
    the trial is marked done, and after the last trial the participant gets a completion code.
    Raises TrialNotFound if the trial is not this participant's, InvalidRatings otherwise.
    """
    p = get_participant(session, participant_token)
    trial = session.scalars(select(db.Trial).where(db.Trial.id == int(trial_id),
                                                   db.Trial.participant_id == p.id)
                            .options(selectinload(db.Trial.items), selectinload(db.Trial.ratings))).first()
    if trial is None:
        raise TrialNotFound("no such trial for this participant")
    study = session.get(db.Study, p.study_id)
    labels = {it.label for it in trial.items}
    rows = _validate(study, labels, ratings)
    existing = {(r.label, r.axis): r for r in trial.ratings}
    now = db.utcnow()
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
        missing = [f"{lab}/{ax}" for lab in sorted(labels) for ax in axes if (lab, ax) not in existing]
        if missing:
            raise InvalidRatings(f"missing ratings: {', '.join(missing)}")
        if trial.completed_at is None:
            trial.completed_at = now
        session.flush()
        left = session.scalar(select(func.count()).where(db.Trial.participant_id == p.id,
                                                         db.Trial.completed_at.is_(None)))
        if left == 0 and p.completed_at is None:
            p.completed_at = now
            p.completion_code = study.config.get("completion_code") or secrets.token_hex(4).upper()
    session.flush()
    return trial


def exclude_participant(session: Session, participant_id: int, excluded: bool = True,
                        reason: str | None = None) -> None:
    p = session.get(db.Participant, int(participant_id))
    if p is None:
        raise UnknownParticipant(f"no participant {participant_id}")
    p.excluded, p.exclusion_reason = bool(excluded), (reason if excluded else None)


# --------------------------------------------------------------------------- export / progress

def export_ratings(session: Session, study_id: int | str | None = None):
    """All scores of a study in long format (one row per score), columns EXPORT_COLUMNS."""
    import pandas as pd

    study = get_study(session, study_id)
    q = (select(db.Rating, db.Trial, db.Participant, db.Clip, db.Track, db.System)
         .join(db.Trial, db.Rating.trial_id == db.Trial.id)
         .join(db.Participant, db.Trial.participant_id == db.Participant.id)
         .join(db.Clip, db.Trial.clip_id == db.Clip.id)
         .join(db.TrialItem, (db.TrialItem.trial_id == db.Trial.id) & (db.TrialItem.label == db.Rating.label))
         .join(db.Track, db.TrialItem.track_id == db.Track.id)
         .outerjoin(db.System, db.Track.system_id == db.System.id)
         .where(db.Participant.study_id == study.id)
         .order_by(db.Participant.id, db.Trial.order, db.Rating.label, db.Rating.axis))
    recs = []
    for r, t, p, c, tr, sy in session.execute(q):
        recs.append({
            "participant_id": p.id, "external_id": p.external_id, "trial_id": t.id,
            "trial_order": t.order, "clip": c.name, "system": sy.name if sy is not None else "anchor",
            "label": r.label, "axis": r.axis, "score": int(r.score), "rated_at": r.rated_at,
            "attention_check": tr.check_kind is not None, "excluded": bool(p.excluded),
            "study": study.name, "check_kind": tr.check_kind or "", "attention_trial": bool(t.is_attention),
            "trial_completed": t.completed_at is not None, "participant_completed": p.completed_at is not None,
        })
    df = pd.DataFrame.from_records(recs, columns=EXPORT_COLUMNS)
    return df.astype({"participant_id": "int64", "trial_id": "int64", "trial_order": "int64",
                      "score": "int64", "attention_check": "bool", "excluded": "bool"})


def write_export(df, out: str) -> None:
    if str(out).endswith(".parquet"):
        df.to_parquet(out, index=False)
    elif str(out).endswith(".csv"):
        df.to_csv(out, index=False)
    else:
        raise StudyError(f"export file must end in .csv or .parquet: {out}")


def study_progress(session: Session, study_id: int) -> dict:
    """Counts for the admin page."""
    ps = session.scalars(select(db.Participant).where(db.Participant.study_id == study_id)).all()
    return {
        "started": len(ps),
        "finished": sum(p.completed_at is not None for p in ps),
        "excluded": sum(bool(p.excluded) for p in ps),
        "participants": ps,
    }


def mos_table(df):
    """Mean opinion score with a 95% t-interval per system x axis (non-excluded, no checks)."""
    import numpy as np
    import pandas as pd
    from scipy import stats

    d = df[(~df["excluded"]) & (~df["attention_check"])]
    rows = []
    for (system, axis), g in d.groupby(["system", "axis"]):
        n, m = len(g), float(g["score"].mean())
        half = float(stats.t.ppf(0.975, n - 1) * g["score"].std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        rows.append({"system": system, "axis": axis, "n": n, "mos": m, "ci95": half})
    return pd.DataFrame(rows, columns=["system", "axis", "n", "mos", "ci95"])
