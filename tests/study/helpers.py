"""Helpers for the study tests: what the player does for a trial, on an injected server clock."""

from __future__ import annotations

import datetime as dt

from study import db, listening, service


def listen_through(engine, token: str, extra: float = 0.05) -> None:
    """Fetch the current trial's video and tracks and report each track played for the study's
    minimum (plus `extra` s), with the server clock advanced by hand instead of waiting."""
    with db.write_session(engine) as s:
        t = service.next_trial(s, token)
        if t is None:
            return
        p = service.get_participant(s, token)
        need = service.min_listen(s.get(db.Study, p.study_id), t.clip) + extra
        listening.media_fetch(s, t.video_token)
        for it in t.items:
            listening.media_fetch(s, it.media_token)
        now = max(db.utcnow(), t.last_beat_at or db.utcnow())
        for it in t.items:
            listening.report(s, token, t.id, "play", it.label, 0.0, now=now)
            left = need
            while left > 0:
                step = min(left, listening.MAX_BEAT_S)
                now += dt.timedelta(seconds=step)
                listening.report(s, token, t.id, "beat", it.label, step, now=now)
                left -= step


def rate_all(engine, token: str, rng, axes=("overall", "sync", "quality")) -> dict:
    """Listen through the current trial and complete it with random scores; returns them."""
    listen_through(engine, token)
    with db.write_session(engine) as s:
        t = service.next_trial(s, token)
        ratings = {it.label: {a: rng.randint(1, 5) for a in axes} for it in t.items}
        service.submit_ratings(s, token, t.id, ratings)
        return {"trial_id": t.id, "ratings": ratings}
