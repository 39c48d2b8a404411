"""Loading and selecting listening-study ratings (tidy long format, one row per score).

Columns used: `participant_id, clip, system, axis, score` (required) and, when present,
`trial_id, external_id, attention_check, excluded, rated_at`. Every function is pure: it takes a
DataFrame and returns a DataFrame; nothing is dropped without being asked for (see `select`).
"""
from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis.errors import (AllExcludedError, EmptyRatingsError, MissingColumnsError,
                             MissingSystemError, RatingsError)

REQUIRED = ("participant_id", "clip", "system", "axis", "score")
AXES = ("overall", "quality", "sync")
AXIS_TITLES = {"overall": "Overall", "quality": "Quality", "sync": "Sync"}
SCALE = (1, 2, 3, 4, 5)


# ----------------------------------------------------------------------------- loading

def validate(df: pd.DataFrame, source: str = "ratings") -> pd.DataFrame:
    """Check the required columns and normalise dtypes; returns a copy."""
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise MissingColumnsError(
            f"{source} lacks required column(s) {missing}; it needs {list(REQUIRED)} "
            f"(has {list(df.columns)})")
    out = df.copy()
    for col in ("participant_id", "clip", "system", "axis"):
        out[col] = out[col].astype(str)
    if out["score"].isna().any():
        raise RatingsError(f"{source} has {int(out['score'].isna().sum())} empty score(s)")
    out["score"] = out["score"].astype(np.int64)
    for col in ("attention_check", "excluded"):
        if col in out.columns:
            out[col] = out[col].fillna(False).astype(bool)
        else:
            out[col] = False
    return out


def load_ratings(source, study: str | int | None = None, allow_empty: bool = False) -> pd.DataFrame:
    """Ratings in long format from a DataFrame, a CSV / Parquet export, or a database URL.

    A URL (anything with "://") is read through the study package's own export
    (`study.service.export_ratings`), so the columns are exactly the study's export format.
    `df.attrs["systems"]` / `["axes"]` list what the study defines, when known, so that a
    system without ratings is reported rather than silently missing.
    """
    if isinstance(source, pd.DataFrame):
        df, name = source, "DataFrame"
    else:
        name = str(source)
        low = name.lower()
        if "://" in name:
            df = _load_db(name, study)
        elif low.endswith(".csv") or low.endswith(".csv.gz"):
            df = pd.read_csv(_existing(name))
        elif low.endswith((".parquet", ".pq")):
            df = pd.read_parquet(_existing(name))
        else:
            raise RatingsError(f"cannot tell the format of {name!r}: give a .csv, .parquet or a "
                               "database URL such as sqlite:///study.db")
    attrs = dict(df.attrs)
    out = validate(df, name)
    out.attrs.update(attrs)
    if len(out) == 0 and not allow_empty:
        raise EmptyRatingsError(f"{name} holds no ratings")
    return out


def _existing(path: str) -> str:
    if not os.path.exists(path):
        raise FileNotFoundError(f"ratings file not found: {path}")
    return path


def _load_db(url: str, study) -> pd.DataFrame:
    from analysis import study_io
    return study_io.read_study_ratings(url, study)


# ----------------------------------------------------------------------------- selection

def select(df: pd.DataFrame, exclude: Iterable[str] | None = None, drop_marked: bool = True,
           ) -> pd.DataFrame:
    """The ratings that measure the systems: attention-check rows and excluded raters removed.

    `exclude` names participants to leave out (e.g. from `screen_raters`); `drop_marked` also
    leaves out those the study admin marked `excluded`. Who was left out is recorded in
    `out.attrs["excluded_participants"]`, and the number of attention rows removed in
    `out.attrs["attention_rows"]`. Raises AllExcludedError when no rater is left.
    """
    if len(df) == 0:
        raise EmptyRatingsError("there are no ratings to analyse")
    exclude = set(map(str, exclude or ()))
    unknown = exclude - set(df["participant_id"])
    if unknown:
        raise RatingsError(f"exclude= names unknown participant(s): {sorted(unknown)}")
    marked = set(df.loc[df["excluded"], "participant_id"]) if drop_marked else set()
    gone = exclude | marked
    keep = ~df["participant_id"].isin(gone) & ~df["attention_check"]
    out = df.loc[keep].copy()
    out.attrs = dict(df.attrs)
    out.attrs["excluded_participants"] = sorted(gone)
    out.attrs["attention_rows"] = int(df["attention_check"].sum())
    if len(out) == 0:
        n = df["participant_id"].nunique()
        raise AllExcludedError(f"all {n} rater(s) are excluded ({len(exclude)} by exclude=, "
                               f"{len(marked)} marked in the study) or only attention checks remain")
    return out


def systems_of(df: pd.DataFrame) -> list[str]:
    """The study's systems: df.attrs["systems"] when the loader knew them, else those rated."""
    known = df.attrs.get("systems")
    return list(known) if known else sorted(df["system"].unique())


def axes_of(df: pd.DataFrame) -> list[str]:
    known = df.attrs.get("axes")
    present = list(known) if known else list(df["axis"].unique())
    return [a for a in AXES if a in present] + sorted(a for a in present if a not in AXES)


def check_cells(df: pd.DataFrame, systems: list[str], axes: list[str]) -> None:
    rated = set(df["system"])
    none = [s for s in systems if s not in rated]
    if none:
        raise MissingSystemError(f"system(s) {none} have no ratings (after exclusions); the study "
                                 f"defines {systems}")
    counts = df.groupby(["system", "axis"]).size()
    empty = [f"{s}/{a}" for s in systems for a in axes if (s, a) not in counts.index]
    if empty:
        raise MissingSystemError(f"no ratings for system/axis cell(s) {empty}")
