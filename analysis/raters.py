"""Raters: screening (flags only, never drops anyone) and inter-rater agreement per axis."""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis import agreement
from analysis.errors import EmptyRatingsError, TooFewRatersError
from analysis.ratings import SCALE, axes_of, select, systems_of


# ----------------------------------------------------------------------------- agreement

def agreement_table(df: pd.DataFrame, exclude: Iterable[str] | None = None,
                    drop_marked: bool = True, metric: str = "ordinal") -> pd.DataFrame:
    """Krippendorff's alpha per axis. Units are tracks (clip x system), coders are participants.

    Works on the unbalanced design as is: each participant rates only some clips. A rater's
    repeated rating of one unit keeps the first. Columns: axis, alpha, n_units, n_pairable, n_raters.
    """
    d = select(df, exclude, drop_marked)
    if d["participant_id"].nunique() < 2:
        raise TooFewRatersError(f"agreement needs at least 2 raters; got "
                                f"{d['participant_id'].nunique()}")
    rows = []
    for a in axes_of(df):
        sub = d[d["axis"] == a].drop_duplicates(["clip", "system", "participant_id"])
        units = sub["clip"] + "\x1f" + sub["system"]
        try:
            res = agreement.krippendorff_alpha(units.to_numpy(), sub["score"].to_numpy(),
                                               domain=np.array(SCALE), metric=metric)
        except ValueError as e:
            raise TooFewRatersError(f"{a}: {e}") from e
        rows.append({"axis": a, "alpha": res["alpha"], "n_units": res["n_units"],
                     "n_pairable": res["n_pairable"], "n_raters": int(sub["participant_id"].nunique())})
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------- screening

def screen_raters(df: pd.DataFrame, min_corr: float = 0.1, attention_max_ok: int = 2,
                  max_attention_failures: int = 0) -> pd.DataFrame:
    """One row per rater with the screening evidence; flags only, never drops anyone.

    - attention_failures: attention-check tracks rated as acceptable, i.e. whose mean score
      on the axes the check targets (sync for an "offset" track, every axis for an "anchor"
      or an unknown kind) is above `attention_max_ok`; flagged when more than
      `max_attention_failures`;
    - zero_variance: the rater's (non-attention) scores never vary;
    - loo_corr: Pearson correlation of the rater's scores with the mean of the *other* raters
      on the same tracks (clip x system x axis); flagged when below `min_corr`.
    Use `flagged_raters(screen)` for an explicit `exclude=` list.
    """
    if len(df) == 0:
        raise EmptyRatingsError("there are no ratings to screen")
    real = df[~df["attention_check"]]
    raters = sorted(df["participant_id"].unique(), key=_natural)
    if len(raters) < 2:
        raise TooFewRatersError(f"screening against the consensus needs at least 2 raters; got {raters}")
    fails, n_att = _attention_failures(df, attention_max_ok)
    std = real.groupby("participant_id")["score"].std(ddof=0)
    n = real.groupby("participant_id").size()

    key = ["clip", "system", "axis"]
    tot = real.groupby(key)["score"].agg(["sum", "count"]).rename(columns={"sum": "t_sum", "count": "t_n"})
    own = real.groupby(key + ["participant_id"])["score"].agg(["sum", "count", "mean"]).reset_index()
    own = own.join(tot, on=key)
    own = own[own["t_n"] > own["count"]]                                # someone else rated it too
    own["others"] = (own["t_sum"] - own["sum"]) / (own["t_n"] - own["count"])

    def corr(g):
        if len(g) < 3 or g["mean"].std() == 0 or g["others"].std() == 0:
            return np.nan
        return float(np.corrcoef(g["mean"], g["others"])[0, 1])

    loo = {p: corr(g) for p, g in own.groupby("participant_id")}
    ext = df.groupby("participant_id")["external_id"].first() if "external_id" in df else None
    marked = df.groupby("participant_id")["excluded"].any()
    rows = []
    for p in raters:
        f = int(fails.get(p, 0))
        c = loo.get(p, np.nan)
        zero = bool(std.get(p, 0.0) == 0)
        flags = []
        if f > max_attention_failures:
            flags.append("attention")
        if zero:
            flags.append("zero_variance")
        if not np.isnan(c) and c < min_corr:
            flags.append("low_corr")
        rows.append({"participant_id": p,
                     "external_id": None if ext is None else ext.get(p),
                     "n_ratings": int(n.get(p, 0)), "n_attention": int(n_att.get(p, 0)),
                     "attention_failures": f, "std": float(std.get(p, np.nan)),
                     "zero_variance": zero, "loo_corr": c, "marked_excluded": bool(marked[p]),
                     "flags": ",".join(flags), "flagged": bool(flags)})
    return pd.DataFrame(rows)


def _natural(pid: str):
    return (0, int(pid), "") if pid.isdigit() else (1, 0, pid)


def _attention_failures(df: pd.DataFrame, max_ok: int):
    """Per participant: (number of failed attention-check tracks, number of check tracks)."""
    att = df[df["attention_check"]]
    if len(att) == 0:
        return pd.Series(dtype=int), pd.Series(dtype=int)
    kind = att["check_kind"] if "check_kind" in att else pd.Series("", index=att.index)
    relevant = (kind != "offset") | (att["axis"] == "sync")
    track = ["participant_id", "trial_id", "label"] if {"trial_id", "label"} <= set(att) else \
        ["participant_id", "clip", "system"]
    per_track = att[relevant].groupby(track)["score"].mean()
    failed = (per_track > max_ok).groupby(level="participant_id").sum()
    return failed, per_track.groupby(level="participant_id").size()


def flagged_raters(screen: pd.DataFrame) -> list[str]:
    """The participants `screen_raters` flagged, for an explicit `exclude=`."""
    return screen.loc[screen["flagged"], "participant_id"].tolist()


def score_distribution(df: pd.DataFrame, exclude: Iterable[str] | None = None,
                       drop_marked: bool = True) -> pd.DataFrame:
    """Counts of each score per system x axis (tidy: system, axis, score, count, share)."""
    d = select(df, exclude, drop_marked)
    c = d.groupby(["system", "axis", "score"]).size().rename("count").reset_index()
    full = pd.MultiIndex.from_product([systems_of(df), axes_of(df), list(SCALE)],
                                      names=["system", "axis", "score"])
    c = c.set_index(["system", "axis", "score"]).reindex(full, fill_value=0).reset_index()
    c["share"] = c["count"] / c.groupby(["system", "axis"])["count"].transform("sum").replace(0, 1)
    return c
