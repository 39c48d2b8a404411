"""Small pure statistics helpers on numpy arrays: cluster-robust CIs, Holm, paired effect sizes."""
from __future__ import annotations

import numpy as np
from scipy import stats


def cluster_t_ci(values: np.ndarray, clusters: np.ndarray | None, level: float = 0.95):
    """Mean and t-based CI of `values`, with a cluster-robust (CR1) standard error.

    With `clusters=None` every value is its own cluster and this is the textbook
    `mean ± t_{n-1} s/sqrt(n)`. With clusters (e.g. the rater of each score) the variance is
    `G/(G-1) * sum_g (sum_{i in g} (y_i - mean))^2 / N^2` on G-1 degrees of freedom, which
    stays valid when scores of one rater are correlated (rater bias).
    Returns (mean, ci_low, ci_high, n_clusters).
    """
    y = np.asarray(values, dtype=np.float64)
    n = y.size
    mean = float(y.mean())
    if clusters is None:
        g_sums = y - mean
    else:
        _, inv = np.unique(np.asarray(clusters), return_inverse=True)
        g_sums = np.bincount(inv, weights=y - mean)
    g = g_sums.size
    if g < 2:
        raise ValueError(f"a CI needs at least 2 independent units; got {g}")
    var = g / (g - 1) * float(np.sum(g_sums**2)) / n**2
    half = stats.t.ppf(0.5 + level / 2, g - 1) * np.sqrt(var)
    return mean, mean - half, mean + half, g


def cluster_bootstrap_ci(values: np.ndarray, clusters: np.ndarray | None, level: float = 0.95,
                         n_boot: int = 2000, seed: int = 0):
    """Percentile bootstrap CI of the grand mean, resampling whole clusters (raters).

    Returns (mean, ci_low, ci_high, n_clusters); deterministic for a given seed.
    """
    y = np.asarray(values, dtype=np.float64)
    if clusters is None:
        sums, counts = y, np.ones_like(y)
    else:
        _, inv = np.unique(np.asarray(clusters), return_inverse=True)
        sums = np.bincount(inv, weights=y)
        counts = np.bincount(inv).astype(np.float64)
    g = sums.size
    if g < 2:
        raise ValueError(f"a bootstrap CI needs at least 2 independent units; got {g}")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, g, size=(n_boot, g))                          # (B, G)
    boots = sums[idx].sum(1) / counts[idx].sum(1)                       # (B,)
    lo, hi = np.quantile(boots, [0.5 - level / 2, 0.5 + level / 2])
    return float(y.mean()), float(lo), float(hi), g


def holm(pvalues) -> np.ndarray:
    """Holm–Bonferroni step-down adjusted p-values (same order as the input)."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    order = np.argsort(p, kind="stable")
    adj_sorted = np.maximum.accumulate(np.minimum(1.0, (m - np.arange(m)) * p[order]))
    out = np.empty(m)
    out[order] = adj_sorted
    return out


def rank_biserial(diffs: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation (T+ - T-) / (T+ + T-), zero differences dropped.

    +1: every pair favours the first system; -1: every pair favours the second; 0 when no
    pair differs.
    """
    d = np.asarray(diffs, dtype=np.float64)
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    ranks = stats.rankdata(np.abs(d))
    t_plus, t_minus = ranks[d > 0].sum(), ranks[d < 0].sum()
    return float((t_plus - t_minus) / (t_plus + t_minus))
