"""Study rules shared by the ORM service, the hot path and the listening log, with no
dependency on either (so `service`, `hotpath` and `listening` import this, not each other):
the database integer bound, the participant-visible config, credited play time as the page
sees it, the play-report kinds, and score validation."""
from __future__ import annotations

import math

from . import db
from .errors import InvalidRatings

MAX_DB_INT = 2**62
MAX_BEAT_S = 5.0                       # longest gap one play report may credit
KINDS = ("play", "beat", "end")        # play-report kinds


def public_config(study: db.Study) -> dict:
    """The parts of a study's config the participant pages may see (no systems, no paths)."""
    c = study.config
    out = {k: c.get(k) for k in ("title", "axes", "scale", "instructions", "consent",
                                 "require_play", "crossfade_ms")}
    out["min_listen_s"] = float(c.get("min_listen_s", 0.0)) if c.get("require_play", True) else 0.0
    lufs = (c.get("media") or {}).get("loudness_lufs")
    # a 440 Hz sine of amplitude a measures about 20 log10(a) - 3.7 LUFS (BS.1770, mono)
    out["tone_level"] = round(min(0.5, 10 ** ((lufs + 3.7) / 20)), 4) if lufs is not None else 0.2
    return out


def credit(kind: str, seconds: float, now, since, fetched: bool) -> float:
    """The play time one report earns: none for a "play" (it opens a segment) or an unfetched
    track; else the seconds it claims, at most the wall-clock time `since` the trial's previous
    report (or, for its first report, since the trial was first shown: the page learns the media
    only then) and at most MAX_BEAT_S. So the credit of all a trial's tracks together never
    exceeds the real time since it was shown, however the reports are forged."""
    if kind == "play" or since is None or not fetched:
        return 0.0
    elapsed = max(0.0, (now - since).total_seconds())
    return max(0.0, min(float(seconds), elapsed, MAX_BEAT_S))


def shown_listened(seconds: float) -> float:
    """Credited play time as the page sees it: rounded *down* to 0.01 s (after the 1e-6 slack the
    server's own check allows), so the page never sees a track credited with its minimum before
    the server would accept its scores (the page stops reporting a credited track)."""
    return math.floor((float(seconds) + 1e-6) * 100) / 100


def validate_ratings(study: db.Study, labels: set[str], ratings: dict) -> list[tuple[str, str, int]]:
    cfg = study.config
    axes = {a["key"] for a in cfg["axes"]}
    lo, hi = cfg["scale"]["min"], cfg["scale"]["max"]
    if not isinstance(ratings, dict):
        raise InvalidRatings("ratings must map labels to {axis: score}")
    out = []
    for label, by_axis in ratings.items():
        if label not in labels:
            raise InvalidRatings("unknown track label")
        if not isinstance(by_axis, dict):
            raise InvalidRatings(f"ratings for track {label} must map axes to scores")
        for axis, score in by_axis.items():
            if axis not in axes:
                raise InvalidRatings("unknown rating axis")
            if isinstance(score, bool) or not isinstance(score, int) or not lo <= score <= hi:
                raise InvalidRatings(f"a score for track {label} / {axis} is not an integer in {lo}..{hi}")
            out.append((label, axis, score))
    return out
