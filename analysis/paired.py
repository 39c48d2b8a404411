"""Paired comparisons of systems at the unit that is independent: the rater (and the clip).

Scores of one rater share that rater's taste for each system, and scores of one clip share how
well the clip suits each system. Pairing by participant x clip and treating every pair as an
independent observation (method "trial", kept only to show the difference) lets one rater
contribute many "independent" pairs, so its p-values come out too small whenever raters or
clips favour systems differently. The methods here test at the right unit:

- "rater": each rater's mean difference (over the clips that rater heard with both systems),
  then the Wilcoxon signed-rank test across raters; effect = matched-pairs rank-biserial r.
  It generalises over raters, for the clips of the study.
- "crossed": the mean difference with a standard error from both random factors, rater and
  clip (Clark 1973's quasi-F for a complete rater x clip table: (MS_rater + MS_clip -
  MS_residual) / (R C) on Satterthwaite degrees of freedom; for an incomplete table the
  two-way cluster-robust variance of Cameron, Gelbach & Miller (2011) on min(R, C) - 1 df).
  It generalises over raters *and* clips, as the mixed model (`analysis.mixed`) does;
  effect = Cohen's d of the paired scores (mean difference / pooled score sd).
All methods are Holm-corrected within each axis. `pairwise_tests` returns the columns
axis, system_a, system_b, method, statistic, p, p_holm, effect, then effect_kind, n_raters,
n_clips, n_pairs, mean_diff, ci_low, ci_high, df, significant.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats as sps

from analysis.errors import MissingSystemError, TooFewRatersError
from analysis.ratings import axes_of, check_cells, select, systems_of
from analysis.stats import holm, rank_biserial

METHODS = ("crossed", "rater", "trial")
COLUMNS = ["axis", "system_a", "system_b", "method", "statistic", "p", "p_holm", "effect",
           "effect_kind", "n_raters", "n_clips", "n_pairs", "mean_diff", "ci_low", "ci_high", "df",
           "significant"]


def paired_scores(df: pd.DataFrame, axis: str, pair_by=("participant_id", "clip")) -> pd.DataFrame:
    """Wide (pair_by) x system table of scores for one axis, complete blocks only.

    Repeated ratings of a block (a clip seen twice) are averaged.
    """
    d = df[df["axis"] == axis]
    wide = d.pivot_table(index=list(pair_by), columns="system", values="score", aggfunc="mean")
    return wide.dropna()


def difference_table(df: pd.DataFrame, axis: str, a: str, b: str) -> pd.Series:
    """Score of a minus score of b per (participant_id, clip) heard with both (means of repeats)."""
    d = df[(df["axis"] == axis) & df["system"].isin([a, b])]
    wide = d.pivot_table(index=["participant_id", "clip"], columns="system", values="score",
                         aggfunc="mean")
    if a not in wide or b not in wide:
        raise MissingSystemError(f"{axis}: no participant x clip rated both {a} and {b}")
    diff = (wide[a] - wide[b]).dropna()
    if len(diff) == 0:
        raise MissingSystemError(f"{axis}: no participant x clip rated both {a} and {b}")
    return diff


def rater_signed_rank(diff: pd.Series) -> dict:
    """Wilcoxon signed-rank across raters on each rater's mean difference."""
    per_rater = diff.groupby(level="participant_id").mean().to_numpy()
    r = per_rater.size
    if r < 2:
        raise TooFewRatersError(f"a test across raters needs at least 2 raters, got {r}")
    if np.all(per_rater == 0):
        w, p = 0.0, 1.0
    else:
        res = sps.wilcoxon(per_rater, zero_method="wilcox")
        w, p = float(res.statistic), float(res.pvalue)
    _, lo, hi = _t_interval(per_rater.mean(), per_rater.std(ddof=1) / np.sqrt(r), r - 1)
    return {"statistic": w, "p": p, "effect": rank_biserial(per_rater),
            "effect_kind": "rank-biserial r (raters)", "df": float(r - 1), "ci_low": lo, "ci_high": hi}


def crossed_variance(diff: pd.Series) -> tuple[float, float]:
    """(variance of the mean difference, degrees of freedom) with raters and clips both random.

    Complete rater x clip table: Clark's quasi-F denominator (MS_r + MS_c - MS_e) / (R C), never
    below max(MS_r, MS_c) / (R C) (a negative variance component counts as 0), on Satterthwaite
    df. Incomplete: two-way cluster-robust V_rater + V_clip - V_cell (each CR1), on min(R, C) - 1.
    """
    raters = diff.index.get_level_values("participant_id")
    clips = diff.index.get_level_values("clip")
    n_r, n_c = raters.nunique(), clips.nunique()
    if n_r < 2 or n_c < 2:
        raise TooFewRatersError(f"a test over raters and clips needs at least 2 of each; got "
                                f"{n_r} rater(s) and {n_c} clip(s)")
    y = diff.to_numpy(np.float64)
    if len(y) == n_r * n_c:                                            # complete table
        table = diff.unstack("clip").to_numpy()                        # (R, C)
        grand = table.mean()
        row, col = table.mean(1), table.mean(0)
        ms_r = n_c * np.sum((row - grand) ** 2) / (n_r - 1)
        ms_c = n_r * np.sum((col - grand) ** 2) / (n_c - 1)
        resid = table - row[:, None] - col[None, :] + grand
        df_e = (n_r - 1) * (n_c - 1)
        ms_e = np.sum(resid**2) / df_e
        combo = max(ms_r + ms_c - ms_e, ms_r, ms_c)
        if combo <= 0:
            return 0.0, float(df_e)
        parts = [(ms_r, n_r - 1), (ms_c, n_c - 1)]
        if combo == ms_r + ms_c - ms_e:
            parts.append((ms_e, df_e))
        elif combo == ms_r:
            parts = [(ms_r, n_r - 1)]
        else:
            parts = [(ms_c, n_c - 1)]
        dof = combo**2 / sum(m**2 / d for m, d in parts)
        return float(combo / (n_r * n_c)), float(dof)
    v = _cr1(y, raters) + _cr1(y, clips) - _cr1(y, np.arange(len(y)))
    v = max(v, _cr1(y, raters), _cr1(y, clips))
    return float(v), float(min(n_r, n_c) - 1)


def _cr1(y: np.ndarray, groups) -> float:
    """CR1 cluster-robust variance of the mean of y."""
    _, inv = np.unique(np.asarray(groups), return_inverse=True)
    sums = np.bincount(inv, weights=y - y.mean())
    g = sums.size
    return g / (g - 1) * float(np.sum(sums**2)) / y.size**2


def _t_interval(mean: float, se: float, dof: float, level: float = 0.95):
    half = float(sps.t.ppf(0.5 + level / 2, dof) * se) if se > 0 else 0.0
    return float(mean), float(mean) - half, float(mean) + half


def crossed_t(diff: pd.Series, score_sd: float) -> dict:
    """t-test of the mean difference with rater and clip variance (`crossed_variance`)."""
    mean = float(diff.mean())
    var, dof = crossed_variance(diff)
    se = np.sqrt(var)
    if se == 0:
        t, p = 0.0, 1.0 if mean == 0 else 0.0
    else:
        t = mean / se
        p = float(2 * sps.t.sf(abs(t), dof))
    _, lo, hi = _t_interval(mean, se, dof)
    return {"statistic": float(t), "p": p, "effect": mean / score_sd if score_sd > 0 else 0.0,
            "effect_kind": "d (diff / score sd)", "df": dof, "ci_low": lo, "ci_high": hi}


def trial_signed_rank(diff: pd.Series) -> dict:
    """The pseudo-replicated test: every participant x clip pair counted as independent."""
    d = diff.to_numpy()
    if np.all(d == 0):
        w, p = 0.0, 1.0
    else:
        res = sps.wilcoxon(d, zero_method="wilcox")
        w, p = float(res.statistic), float(res.pvalue)
    return {"statistic": w, "p": p, "effect": rank_biserial(d),
            "effect_kind": "rank-biserial r (pairs)", "df": float(len(d) - 1),
            "ci_low": np.nan, "ci_high": np.nan}


def compare(df: pd.DataFrame, axis: str, a: str, b: str, method: str = "crossed") -> dict:
    """One paired comparison a - b on one axis (no exclusions applied here; see `select`)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    diff = difference_table(df, axis, a, b)
    if method == "rater":
        res = rater_signed_rank(diff)
    elif method == "crossed":
        cell = df[(df["axis"] == axis) & df["system"].isin([a, b])]
        res = crossed_t(diff, float(cell.groupby("system")["score"].var().mean() ** 0.5))
    else:
        res = trial_signed_rank(diff)
    idx = diff.index
    return {"axis": axis, "system_a": a, "system_b": b, "method": method, **res,
            "n_raters": int(idx.get_level_values("participant_id").nunique()),
            "n_clips": int(idx.get_level_values("clip").nunique()), "n_pairs": int(len(diff)),
            "mean_diff": float(diff.mean())}


def pairwise_tests(df: pd.DataFrame, exclude: Iterable[str] | None = None, drop_marked: bool = True,
                   alpha: float = 0.05, method: str = "crossed") -> pd.DataFrame:
    """Every pair of systems per axis with one `method` (see the module doc), Holm per axis."""
    d = select(df, exclude, drop_marked)
    systems, axes = systems_of(df), axes_of(df)
    check_cells(d, systems, axes)
    if len(systems) < 2:
        raise MissingSystemError(f"pairwise tests need at least two systems; got {systems}")
    rows = []
    for a in axes:
        block = [compare(d, a, sa, sb, method) for i, sa in enumerate(systems)
                 for sb in systems[i + 1:]]
        for r, q in zip(block, holm([r["p"] for r in block])):
            r["p_holm"] = float(q)
            r["significant"] = bool(q < alpha)
        rows += block
    return pd.DataFrame(rows)[COLUMNS]


def significance_matrix(pw: pd.DataFrame, axis: str) -> pd.DataFrame:
    """Systems x systems for one axis: 'mean diff (effect) p_holm' with * when significant."""
    sub = pw[pw["axis"] == axis]
    systems = list(dict.fromkeys(list(sub["system_a"]) + list(sub["system_b"])))
    m = pd.DataFrame("", index=systems, columns=systems)
    m.index.name = f"{axis}: row − col"
    for r in sub.itertuples():
        star = "*" if r.significant else ""
        m.loc[r.system_a, r.system_b] = f"{r.mean_diff:+.2f} ({r.effect:+.2f}, p={r.p_holm:.3g}){star}"
        m.loc[r.system_b, r.system_a] = f"{-r.mean_diff:+.2f} ({-r.effect:+.2f}, p={r.p_holm:.3g}){star}"
    for s in systems:
        m.loc[s, s] = "—"
    return m


def friedman_tests(df: pd.DataFrame, exclude: Iterable[str] | None = None,
                   drop_marked: bool = True) -> pd.DataFrame:
    """Friedman across all systems per axis with raters as blocks (each rater's mean score per
    system over the clips heard with every system), with Kendall's W."""
    d = select(df, exclude, drop_marked)
    systems, axes = systems_of(df), axes_of(df)
    check_cells(d, systems, axes)
    if len(systems) < 3:
        raise MissingSystemError(f"Friedman needs at least 3 systems (got {systems}); use "
                                 "pairwise_tests for two")
    rows = []
    for a in axes:
        trials = paired_scores(d, a)[systems]
        wide = trials.groupby(level="participant_id").mean()
        n, k = wide.shape
        if n < 2:
            raise TooFewRatersError(f"{a}: Friedman needs at least 2 raters, got {n}")
        if np.all(wide.to_numpy() == wide.to_numpy()[:, :1]):
            chi2, p = 0.0, 1.0
        else:
            res = sps.friedmanchisquare(*[wide[s].to_numpy() for s in systems])
            chi2, p = float(res.statistic), float(res.pvalue)
        rows.append({"axis": a, "n_blocks": n, "k": k, "chi2": chi2, "p": p,
                     "kendall_w": chi2 / (n * (k - 1))})
    return pd.DataFrame(rows)
