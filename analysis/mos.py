"""MOS analysis of a listening study on tidy long-format ratings (one row per score).

Columns used: `participant_id, clip, system, axis, score` (required) and, when present,
`trial_id, external_id, attention_check, excluded, rated_at`. Every function is pure: it takes a
DataFrame and returns a DataFrame; nothing is dropped without being asked for (see `select`).
"""
from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis import agreement
from analysis.errors import (AllExcludedError, EmptyRatingsError, MissingColumnsError,
                             MissingSystemError, RatingsError, TooFewRatersError, ZeroVarianceError)
from analysis.stats import cluster_bootstrap_ci, cluster_t_ci, holm, rank_biserial

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


def _check_cells(df: pd.DataFrame, systems: list[str], axes: list[str]) -> None:
    rated = set(df["system"])
    none = [s for s in systems if s not in rated]
    if none:
        raise MissingSystemError(f"system(s) {none} have no ratings (after exclusions); the study "
                                 f"defines {systems}")
    counts = df.groupby(["system", "axis"]).size()
    empty = [f"{s}/{a}" for s in systems for a in axes if (s, a) not in counts.index]
    if empty:
        raise MissingSystemError(f"no ratings for system/axis cell(s) {empty}")


# ----------------------------------------------------------------------------- MOS

def mos_table(df: pd.DataFrame, ci: str = "t", *, level: float = 0.95,
              cluster: str | None = "participant_id", value: str = "score",
              exclude: Iterable[str] | None = None, drop_marked: bool = True,
              n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Per system x axis: n, n_raters, mean, std, ci_low, ci_high (tidy, one row per cell).

    `ci="t"`: t-based CI whose standard error is clustered by rater (`cluster`), because the
    scores of one rater share that rater's bias; `cluster=None` treats every score as
    independent (narrower, and too narrow when raters differ). `ci="bootstrap"`: percentile
    bootstrap resampling raters, seeded. Raises a RatingsError subclass instead of returning NaN.
    """
    if ci not in ("t", "bootstrap"):
        raise ValueError(f"ci must be 't' or 'bootstrap', got {ci!r}")
    d = select(df, exclude, drop_marked)
    systems, axes = systems_of(df), axes_of(df)
    _check_cells(d, systems, axes)
    rows = []
    for s in systems:
        for a in axes:
            cell = d[(d["system"] == s) & (d["axis"] == a)]
            y = cell[value].to_numpy(np.float64)
            groups = cell[cluster].to_numpy() if cluster else None
            n_units = cell[cluster].nunique() if cluster else len(y)
            if n_units < 2:
                who = f"rater {cell[cluster].iloc[0]!r}" if cluster else "score"
                raise TooFewRatersError(
                    f"{s}/{a}: a CI needs at least 2 raters, there is only one ({who}); "
                    "collect more raters or pass cluster=None to treat scores as independent")
            if ci == "t":
                m, lo, hi, _ = cluster_t_ci(y, groups, level)
            else:
                m, lo, hi, _ = cluster_bootstrap_ci(y, groups, level, n_boot, seed)
            rows.append({"system": s, "axis": a, "n": len(y),
                         "n_raters": int(cell["participant_id"].nunique()), "mean": m,
                         "std": float(np.std(y, ddof=1)) if len(y) > 1 else 0.0,
                         "ci_low": lo, "ci_high": hi})
    out = pd.DataFrame(rows)
    out.attrs = {"ci": ci, "level": level, "cluster": cluster, "value": value,
                 "excluded_participants": d.attrs["excluded_participants"]}
    return out


def format_table(tab: pd.DataFrame, digits: int = 2) -> pd.DataFrame:
    """The paper's layout: rows = systems, columns Overall / Quality / Sync, cells 'mean ± half-CI'.

    The ± is half the CI width (the CI itself for a symmetric t interval).
    """
    half = (tab["ci_high"] - tab["ci_low"]) / 2
    cells = tab.assign(cell=[f"{m:.{digits}f} ± {h:.{digits}f}" for m, h in zip(tab["mean"], half)])
    wide = cells.pivot(index="system", columns="axis", values="cell")
    axes = [a for a in AXES if a in wide.columns] + sorted(c for c in wide.columns if c not in AXES)
    systems = list(dict.fromkeys(tab["system"]))
    wide = wide.loc[systems, axes]
    wide.columns = [AXIS_TITLES.get(a, a.title()) for a in axes]
    wide.index.name = "Method"
    return wide


def best_per_axis(tab: pd.DataFrame) -> dict[str, list[str]]:
    """Systems ranked by mean, best first, per axis."""
    return {a: g.sort_values("mean", ascending=False)["system"].tolist()
            for a, g in tab.groupby("axis", sort=False)}


def to_markdown(wide: pd.DataFrame) -> str:
    cols = [wide.index.name or ""] + list(wide.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join([str(i)] + [str(v) for v in row]) + " |"
              for i, row in zip(wide.index, wide.to_numpy())]
    return "\n".join(lines) + "\n"


def to_latex(wide: pd.DataFrame, caption: str = r"Human evaluation (MOS, 95\% CI).") -> str:
    esc = lambda s: str(s).replace("_", r"\_").replace("±", r"$\pm$")  # noqa: E731
    head = " & ".join([wide.index.name or ""] + list(wide.columns)) + r" \\"
    body = "\n".join(" & ".join([esc(i)] + [esc(v) for v in row]) + r" \\"
                     for i, row in zip(wide.index, wide.to_numpy()))
    return ("\\begin{table}[t]\n\\centering\n"
            f"\\begin{{tabular}}{{l{'c' * len(wide.columns)}}}\n\\toprule\n{head}\n\\midrule\n"
            f"{body}\n\\bottomrule\n\\end{{tabular}}\n\\caption{{{caption}}}\n\\end{{table}}\n")


# ----------------------------------------------------------------------------- z-normalised

def add_zscores(df: pd.DataFrame, by_axis: bool = True) -> pd.DataFrame:
    """Adds column `z`: each rater's scores standardised by that rater's mean and std.

    Per rater x axis by default. A rater whose scores do not vary has no z-score: raises
    ZeroVarianceError naming them (exclude them explicitly, see `screen_raters`).
    """
    keys = ["participant_id", "axis"] if by_axis else ["participant_id"]
    g = df.groupby(keys)["score"]
    mu, sd = g.transform("mean"), g.transform(lambda s: s.std(ddof=0))
    flat = df.loc[sd == 0, keys].drop_duplicates()
    if len(flat):
        who = sorted(set(flat["participant_id"]))
        raise ZeroVarianceError(f"rater(s) {who} gave one constant score (per "
                                f"{' x '.join(keys)}), so their z-scores are undefined; "
                                "exclude them with exclude=")
    out = df.copy()
    out["z"] = (df["score"] - mu) / sd
    out.attrs = dict(df.attrs)
    return out


def zmos_table(df: pd.DataFrame, exclude: Iterable[str] | None = None, drop_marked: bool = True,
               **kw) -> pd.DataFrame:
    """MOS table of per-rater z-normalised scores (same columns as `mos_table`)."""
    d = add_zscores(select(df, exclude, drop_marked))
    d["attention_check"] = False
    return mos_table(d, value="z", drop_marked=False, **kw)


# ----------------------------------------------------------------------------- significance

def paired_scores(df: pd.DataFrame, axis: str, pair_by=("participant_id", "clip")) -> pd.DataFrame:
    """Wide (pair_by) x system table of scores for one axis, complete blocks only.

    Repeated ratings of a block (a clip seen twice) are averaged.
    """
    d = df[df["axis"] == axis]
    wide = d.pivot_table(index=list(pair_by), columns="system", values="score", aggfunc="mean")
    return wide.dropna()


def pairwise_tests(df: pd.DataFrame, exclude: Iterable[str] | None = None, drop_marked: bool = True,
                   alpha: float = 0.05) -> pd.DataFrame:
    """Wilcoxon signed-rank between every pair of systems per axis, Holm-corrected per axis.

    Paired by participant x clip. Columns: axis, system_a, system_b, n_pairs, mean_diff (a - b),
    W, p, p_holm, rank_biserial (+1: a always better), significant.
    """
    d = select(df, exclude, drop_marked)
    systems, axes = systems_of(df), axes_of(df)
    _check_cells(d, systems, axes)
    if len(systems) < 2:
        raise MissingSystemError(f"pairwise tests need at least two systems; got {systems}")
    rows = []
    for a in axes:
        wide = paired_scores(d, a)
        block = []
        for i, sa in enumerate(systems):
            for sb in systems[i + 1:]:
                diff = (wide[sa] - wide[sb]).to_numpy()
                if len(diff) == 0:
                    raise MissingSystemError(f"{a}: no participant x clip rated both {sa} and {sb}")
                if np.all(diff == 0):
                    w, p = 0.0, 1.0
                else:
                    res = sps.wilcoxon(wide[sa], wide[sb], zero_method="wilcox")
                    w, p = float(res.statistic), float(res.pvalue)
                block.append({"axis": a, "system_a": sa, "system_b": sb, "n_pairs": len(diff),
                              "mean_diff": float(diff.mean()), "W": w, "p": p,
                              "rank_biserial": rank_biserial(diff)})
        p_adj = holm([r["p"] for r in block])
        for r, q in zip(block, p_adj):
            r["p_holm"] = float(q)
            r["significant"] = bool(q < alpha)
        rows += block
    cols = ["axis", "system_a", "system_b", "n_pairs", "mean_diff", "W", "p", "p_holm",
            "rank_biserial", "significant"]
    return pd.DataFrame(rows)[cols]


def significance_matrix(pw: pd.DataFrame, axis: str) -> pd.DataFrame:
    """Systems x systems for one axis: 'mean diff (r=effect) p_holm' with * when significant."""
    sub = pw[pw["axis"] == axis]
    systems = list(dict.fromkeys(list(sub["system_a"]) + list(sub["system_b"])))
    m = pd.DataFrame("", index=systems, columns=systems)
    m.index.name = f"{axis}: row − col"
    for r in sub.itertuples():
        star = "*" if r.significant else ""
        m.loc[r.system_a, r.system_b] = (f"{r.mean_diff:+.2f} (r={r.rank_biserial:+.2f}, "
                                         f"p={r.p_holm:.3g}){star}")
        m.loc[r.system_b, r.system_a] = (f"{-r.mean_diff:+.2f} (r={-r.rank_biserial:+.2f}, "
                                         f"p={r.p_holm:.3g}){star}")
    for s in systems:
        m.loc[s, s] = "—"
    return m


def friedman_tests(df: pd.DataFrame, exclude: Iterable[str] | None = None,
                   drop_marked: bool = True) -> pd.DataFrame:
    """Friedman test across all systems per axis (blocks = participant x clip), with Kendall's W."""
    d = select(df, exclude, drop_marked)
    systems, axes = systems_of(df), axes_of(df)
    _check_cells(d, systems, axes)
    if len(systems) < 3:
        raise MissingSystemError(f"Friedman needs at least 3 systems (got {systems}); use "
                                 "pairwise_tests for two")
    rows = []
    for a in axes:
        wide = paired_scores(d, a)[systems]
        n, k = wide.shape
        if n < 2:
            raise TooFewRatersError(f"{a}: Friedman needs at least 2 complete blocks, got {n}")
        if np.all(wide.to_numpy() == wide.to_numpy()[:, :1]):
            chi2, p = 0.0, 1.0
        else:
            res = sps.friedmanchisquare(*[wide[s].to_numpy() for s in systems])
            chi2, p = float(res.statistic), float(res.pvalue)
        rows.append({"axis": a, "n_blocks": n, "k": k, "chi2": chi2, "p": p,
                     "kendall_w": chi2 / (n * (k - 1))})
    return pd.DataFrame(rows)


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
