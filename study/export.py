"""Export of a study: the ratings in long format with the listening log, written safely.

`ratings_frame(session, study)` gives one row per score (EXPORT_COLUMNS). Attention-check
rows have `attention_check=True` and `check_kind` "offset" or "anchor"; their `system` is the
system whose track the check replaced in that trial (an offset check is that system's own
track shifted; an anchor is a known-bad file), so every value of `system` is a real system
and a CSV alone tells the analysis which systems the study has. Preview participants (the admin walking through) are left out. CSV cells that a
spreadsheet would run as a formula (starting with = + - @ or a tab / carriage return) get a
leading apostrophe, so an `=HYPERLINK(...)` PROLIFIC_PID stays text.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import db
from .errors import StudyError

EXPORT_COLUMNS = [
    "participant_id", "external_id", "trial_id", "trial_order", "clip", "system", "label",
    "axis", "score", "rated_at", "attention_check", "excluded",
    # extra context
    "study", "check_kind", "attention_trial", "trial_completed", "participant_completed",
    "external_study_id", "external_session_id",
    # the listening log, per track of the trial: play time the server credited, play segments
    # started, and the trial's time from first shown to completed
    "listen_s", "plays", "trial_time_s",
]
LISTENING_COLUMNS = ["participant_id", "external_id", "trial_id", "trial_order", "clip", "label", "system",
                     "kind", "seconds", "at"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _check_slots(session: Session, study: db.Study) -> dict[int, str]:
    """Attention-check track id -> the name of the system whose track it replaces."""
    names = dict(session.execute(select(db.System.id, db.System.name).where(db.System.study_id == study.id)).all())
    return {c["track_id"]: names[c["replaces_system_id"]] for c in study.config.get("checks", [])}


def ratings_frame(session: Session, study: db.Study) -> pd.DataFrame:
    """All scores of `study` in long format (one row per score), columns EXPORT_COLUMNS."""
    q = (select(db.Rating, db.Trial, db.Participant, db.Clip, db.Track, db.System, db.TrialItem)
         .join(db.Trial, db.Rating.trial_id == db.Trial.id)
         .join(db.Participant, db.Trial.participant_id == db.Participant.id)
         .join(db.Clip, db.Trial.clip_id == db.Clip.id)
         .join(db.TrialItem, (db.TrialItem.trial_id == db.Trial.id) & (db.TrialItem.label == db.Rating.label))
         .join(db.Track, db.TrialItem.track_id == db.Track.id)
         .outerjoin(db.System, db.Track.system_id == db.System.id)
         .where(db.Participant.study_id == study.id, db.Participant.is_preview.is_(False))
         .order_by(db.Participant.id, db.Trial.order, db.Rating.label, db.Rating.axis))
    slots = _check_slots(session, study)
    recs = []
    for r, t, p, c, tr, sy, it in session.execute(q):
        spent = (t.completed_at - t.started_at).total_seconds() if t.completed_at and t.started_at else None
        recs.append({
            "participant_id": p.id, "external_id": p.external_id, "trial_id": t.id,
            "trial_order": t.order, "clip": c.name, "system": slots.get(tr.id) or sy.name,
            "label": r.label, "axis": r.axis, "score": int(r.score), "rated_at": r.rated_at,
            "attention_check": tr.check_kind is not None, "excluded": bool(p.excluded),
            "study": study.name, "check_kind": tr.check_kind or "", "attention_trial": bool(t.is_attention),
            "trial_completed": t.completed_at is not None, "participant_completed": p.completed_at is not None,
            "external_study_id": p.external_study_id, "external_session_id": p.external_session_id,
            "listen_s": round(float(it.listened_s), 3), "plays": int(it.plays), "trial_time_s": spent,
        })
    df = pd.DataFrame.from_records(recs, columns=EXPORT_COLUMNS)
    return df.astype({"participant_id": "int64", "trial_id": "int64", "trial_order": "int64",
                      "score": "int64", "attention_check": "bool", "excluded": "bool",
                      "listen_s": "float64", "plays": "int64", "trial_time_s": "float64"})


def listening_frame(session: Session, study: db.Study) -> pd.DataFrame:
    """The raw listening log: one row per media fetch and per play / beat / end report."""
    q = (select(db.ListenEvent, db.Trial, db.Participant, db.Clip)
         .join(db.Trial, db.ListenEvent.trial_id == db.Trial.id)
         .join(db.Participant, db.Trial.participant_id == db.Participant.id)
         .join(db.Clip, db.Trial.clip_id == db.Clip.id)
         .where(db.Participant.study_id == study.id, db.Participant.is_preview.is_(False))
         .order_by(db.Participant.id, db.Trial.order, db.ListenEvent.id))
    names, slots = {}, _check_slots(session, study)
    for it, tr, sy in session.execute(
            select(db.TrialItem, db.Track, db.System).join(db.Track, db.TrialItem.track_id == db.Track.id)
            .outerjoin(db.System, db.Track.system_id == db.System.id)
            .join(db.Trial, db.TrialItem.trial_id == db.Trial.id)
            .join(db.Participant, db.Trial.participant_id == db.Participant.id)
            .where(db.Participant.study_id == study.id)):
        names[(it.trial_id, it.label)] = slots.get(tr.id) or sy.name
    recs = [{"participant_id": p.id, "external_id": p.external_id, "trial_id": t.id, "trial_order": t.order,
             "clip": c.name, "label": e.label or "video",
             "system": names.get((t.id, e.label), "") if e.label else "", "kind": e.kind,
             "seconds": e.seconds, "at": e.at} for e, t, p, c in session.execute(q)]
    return pd.DataFrame.from_records(recs, columns=LISTENING_COLUMNS)


def csv_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A copy whose text cells cannot start a spreadsheet formula (a leading apostrophe is added)."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START)
                                    else v)
    return out


def to_csv_bytes(df: pd.DataFrame) -> bytes:
    return csv_safe(df).to_csv(index=False).encode("utf-8")


def write_export(df: pd.DataFrame, out: str) -> None:
    """Write .csv (formula-safe) or .parquet (typed, unchanged)."""
    if str(out).endswith(".parquet"):
        df.to_parquet(out, index=False)
    elif str(out).endswith(".csv"):
        csv_safe(df).to_csv(out, index=False)
    else:
        raise StudyError("the export file must end in .csv or .parquet")


def mos_table(df: pd.DataFrame) -> pd.DataFrame:
    """Mean opinion score with a 95% t-interval per system x axis (non-excluded, no checks)."""
    import numpy as np
    from scipy import stats

    d = df[(~df["excluded"]) & (~df["attention_check"])]
    rows = []
    for (system, axis), g in d.groupby(["system", "axis"]):
        n, m = len(g), float(g["score"].mean())
        half = float(stats.t.ppf(0.975, n - 1) * g["score"].std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
        rows.append({"system": system, "axis": axis, "n": n, "mos": m, "ci95": half})
    return pd.DataFrame(rows, columns=["system", "axis", "n", "mos", "ci95"])
