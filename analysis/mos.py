"""MOS tables of a listening study on tidy long-format ratings (one row per score).

The library's front door: `from analysis import mos` gives the MOS table (clustered-by-rater
intervals), its paper layout and exports, z-normalised MOS, and re-exports loading and
selection (`analysis.ratings`), paired tests (`analysis.paired`) and rater screening and
agreement (`analysis.raters`), so `mos.load_ratings`, `mos.pairwise_tests`, ... keep working.
The mixed-effects model is `analysis.mixed`.
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from analysis.errors import (AllExcludedError, EmptyRatingsError, MissingColumnsError,  # noqa: F401
                             MissingSystemError, RatingsError, TooFewRatersError, ZeroVarianceError)
from analysis.paired import (compare, friedman_tests, paired_scores, pairwise_tests,  # noqa: F401
                             significance_matrix)
from analysis.raters import (agreement_table, flagged_raters, score_distribution,  # noqa: F401
                             screen_raters)
from analysis.ratings import (AXES, AXIS_TITLES, REQUIRED, SCALE, axes_of, check_cells,  # noqa: F401
                              load_ratings, select, systems_of, validate)
from analysis.stats import cluster_bootstrap_ci, cluster_t_ci

__all__ = [  # the library's public names, including those re-exported from its modules
    "AXES", "AXIS_TITLES", "REQUIRED", "SCALE", "AllExcludedError", "EmptyRatingsError",
    "MissingColumnsError", "MissingSystemError", "RatingsError", "TooFewRatersError",
    "ZeroVarianceError", "add_zscores", "agreement_table", "axes_of", "best_per_axis",
    "check_cells", "compare", "flagged_raters", "format_table", "friedman_tests", "load_ratings",
    "mos_table", "paired_scores", "pairwise_tests", "score_distribution", "screen_raters",
    "select", "significance_matrix", "systems_of", "to_latex", "to_markdown", "validate",
    "zmos_table"]


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
    check_cells(d, systems, axes)
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
