"""Listening, enforced on the server: media fetches and the player's play reports, per trial.

The server logs the first fetch of each trial's video and tracks (`log_fetch`). The player
reports a play segment of a track (`report`) with the seconds of that track played since its
previous report: `beat` when the track's credit can be complete, `end` when it stops or the
participant switches away before that (`play`, 0 s when a track starts, is accepted too; a
report with `started` opens a segment as a `play` does, counted in `plays`). The server credits a
report with at most the wall-clock time since the trial's previous report, or for its first
report since the trial was shown (`rules.credit`), and at most MAX_BEAT_S, and only for a track
whose file was fetched; so crediting N tracks with M seconds each takes at least N x M seconds
of real time, however the reports are forged. `service.submit_ratings` refuses a score for a
track credited less than the study's `min_listen_s` (capped at the clip length).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import db, rules, service
from .media import AUDIO_MIME, VIDEO_MIME
from .rules import KINDS, MAX_BEAT_S  # noqa: F401  (re-exported)



@dataclasses.dataclass(frozen=True)
class Media:
    path: str
    mime: str
    trial_id: int
    label: str | None  # None: the trial's video
    logged: bool       # its first fetch is already in the log


def media_lookup(session: Session, media_token: str) -> Media | None:
    """The file behind a media token (None if unknown). Every track is served as audio/wav,
    every video as video/mp4."""
    row = session.execute(select(db.TrialItem.trial_id, db.TrialItem.label, db.TrialItem.fetched_at,
                                 db.Track.audio_path)
                          .join(db.Track, db.TrialItem.track_id == db.Track.id)
                          .where(db.TrialItem.media_token == media_token)).first()
    if row is not None:
        return Media(row.audio_path, AUDIO_MIME, row.trial_id, row.label, row.fetched_at is not None)
    row = session.execute(select(db.Trial.id, db.Clip.video_path).join(db.Clip, db.Trial.clip_id == db.Clip.id)
                          .where(db.Trial.video_token == media_token)).first()
    if row is None:
        return None
    seen = session.scalar(select(db.ListenEvent.id).where(db.ListenEvent.trial_id == row.id,
                                                          db.ListenEvent.label.is_(None)).limit(1))
    return Media(row.video_path, VIDEO_MIME, row.id, None, seen is not None)


def log_fetch(session: Session, m: Media) -> None:
    """Log the first fetch of a trial's video or track (use a write session)."""
    if m.label is not None:
        item = session.scalars(select(db.TrialItem).where(db.TrialItem.trial_id == m.trial_id,
                                                          db.TrialItem.label == m.label)).one()
        if item.fetched_at is None:
            item.fetched_at = db.utcnow()
            session.add(db.ListenEvent(trial_id=m.trial_id, label=m.label, kind="fetch", at=item.fetched_at))
        return
    seen = session.scalar(select(db.ListenEvent.id).where(db.ListenEvent.trial_id == m.trial_id,
                                                          db.ListenEvent.label.is_(None)).limit(1))
    if seen is None:
        session.add(db.ListenEvent(trial_id=m.trial_id, label=None, kind="fetch", at=db.utcnow()))


def media_fetch(session: Session, media_token: str) -> Media | None:
    """`media_lookup` and `log_fetch` in one (use a write session)."""
    m = media_lookup(session, media_token)
    if m is not None:
        log_fetch(session, m)
    return m


def report(session: Session, token: str, trial_ref: int | str, kind: str, label: str, seconds: float,
           now: dt.datetime | None = None, started: bool = False) -> dict:
    """Record one play report for the participant's current trial; returns the credited play
    time per label, {"listened": {label: s}, "min_listen_s": s}. Use a write session.
    `now` is the server's clock (default: the current UTC time); the HTTP API never sets it."""
    if kind not in KINDS:
        raise service.StudyError("unknown report kind")
    cond = (db.Trial.id == trial_ref) if isinstance(trial_ref, int) else (db.Trial.public_id == str(trial_ref))
    row = session.execute(
        select(db.Trial, db.Participant, db.Study.config, db.Clip.duration)
        .join(db.Participant, db.Trial.participant_id == db.Participant.id)
        .join(db.Study, db.Participant.study_id == db.Study.id).join(db.Clip, db.Trial.clip_id == db.Clip.id)
        .where(cond, db.Participant.token == token)).first()
    if row is None:
        service.get_participant(session, token)  # UnknownParticipant, else:
        raise service.TrialNotFound("no such trial for this participant")
    trial, p, config, duration = row
    db.lock_for_update(session, trial)  # PostgreSQL: one report of a trial at a time
    service.check_next(session, trial)
    items = {it.label: it for it in session.scalars(select(db.TrialItem).where(db.TrialItem.trial_id == trial.id))}
    if label not in items:
        raise service.StudyError("unknown track label")
    now = now or db.utcnow()
    item = items[label]
    credit = rules.credit(kind, seconds, now, trial.last_beat_at or trial.started_at, item.fetched_at is not None)
    if kind == "play" or started:
        item.plays += 1
    item.listened_s += credit
    trial.last_beat_at = now
    service.start_trial(session, trial)
    p.last_active_at = now
    session.add(db.ListenEvent(trial_id=trial.id, label=label, kind=kind, seconds=round(credit, 3), at=now))
    need = min(float(config.get("min_listen_s", 0.0)), float(duration)) if config.get("require_play", True) else 0.0
    return {"listened": {lab: service.shown_listened(it.listened_s) for lab, it in items.items()}, "min_listen_s": need}
