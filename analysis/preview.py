"""The admin page's live MOS preview: the report's rater-clustered interval, never an error.

`mos_preview` takes the study export as it stands mid-study (excluded participants and
attention checks still in it) and returns one row per system x axis with the mean and the half
width of the 95 % t interval clustered by rater (`stats.cluster_t_ci`, the same interval as
`mos.mos_table`). Scores of one rater share that rater's bias, so the naive t interval it
replaces was too narrow (about half as wide on a simulated paper-sized study). A cell with
fewer than two raters has no interval yet (NaN) instead of raising.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from analysis.stats import cluster_t_ci

COLUMNS = ["system", "axis", "n", "n_raters", "mos", "ci95"]


def mos_preview(df: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """system, axis, n, n_raters, mos, ci95 (half width; NaN below 2 raters) per rated cell."""
    if len(df) == 0:
        return pd.DataFrame(columns=COLUMNS)
    keep = pd.Series(True, index=df.index)
    for col in ("excluded", "attention_check"):
        if col in df:
            keep &= ~df[col].fillna(False).astype(bool)
    d = df[keep]
    rows = []
    for (system, axis), g in d.groupby(["system", "axis"], sort=True):
        y = g["score"].to_numpy(np.float64)
        raters = g["participant_id"].to_numpy()
        n_r = int(pd.unique(raters).size)
        half = np.nan
        if n_r >= 2:
            m, lo, hi, _ = cluster_t_ci(y, raters, level)
            half = float((hi - lo) / 2)
        rows.append({"system": system, "axis": axis, "n": int(y.size), "n_raters": n_r,
                     "mos": float(y.mean()), "ci95": half})
    return pd.DataFrame(rows, columns=COLUMNS)
