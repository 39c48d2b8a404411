"""Krippendorff's alpha by the coincidence-matrix method (Krippendorff 2011), any missing cells.

Input is the reliability data as (unit, coder, value) triples, so unbalanced designs (each
rater sees some units only) need no imputation: units with fewer than two values are not
pairable and drop out, exactly as in the textbook method.
"""
from __future__ import annotations

import numpy as np

METRICS = ("nominal", "ordinal", "interval")


def value_counts(units, values, domain) -> np.ndarray:
    """(n_units, n_values) counts n_uv of each domain value in each unit."""
    units = np.asarray(units)
    values = np.asarray(values)
    domain = np.asarray(domain)
    _, u_idx = np.unique(units, return_inverse=True)
    v_idx = np.searchsorted(domain, values)
    if np.any(v_idx >= domain.size) or np.any(domain[np.minimum(v_idx, domain.size - 1)] != values):
        bad = sorted(set(values.tolist()) - set(domain.tolist()))
        raise ValueError(f"values outside the domain {domain.tolist()}: {bad}")
    counts = np.zeros((u_idx.max() + 1, domain.size))
    np.add.at(counts, (u_idx, v_idx), 1)
    return counts


def coincidences(counts: np.ndarray) -> np.ndarray:
    """(V, V) coincidence matrix o_ck = sum_u (n_uc n_uk - [c=k] n_uc) / (m_u - 1), pairable units."""
    m_u = counts.sum(1)
    c = counts[m_u >= 2]
    w = 1.0 / (c.sum(1) - 1)                                            # (U,)
    o = (c * w[:, None]).T @ c                                          # (V, V)
    o -= np.diag((c * w[:, None]).sum(0))
    return o


def distance(metric: str, domain, n_c: np.ndarray) -> np.ndarray:
    """(V, V) squared distance delta^2_ck; the ordinal metric uses the marginal totals n_c."""
    v = np.asarray(domain, dtype=np.float64)
    if metric == "nominal":
        return 1.0 - np.eye(v.size)
    if metric == "interval":
        return (v[:, None] - v[None, :]) ** 2
    if metric == "ordinal":
        cum = np.concatenate([[0.0], np.cumsum(n_c)])                  # cum[i] = sum_{g<i} n_g
        i = np.arange(v.size)
        lo, hi = np.minimum.outer(i, i), np.maximum.outer(i, i)
        between = cum[hi + 1] - cum[lo]                                 # sum_{g=lo..hi} n_g
        return (between - (n_c[lo] + n_c[hi]) / 2.0) ** 2
    raise ValueError(f"unknown metric {metric!r}; use one of {METRICS}")


def krippendorff_alpha(units, values, domain=None, metric: str = "ordinal") -> dict:
    """Alpha for (unit, value) pairs (one value per coder per unit; coders need not be given).

    Returns {alpha, n_units (pairable), n_pairable (values in pairable units), d_o, d_e}.
    Raises ValueError when no unit has two values or when the values never differ.
    """
    values = np.asarray(values)
    if domain is None:
        domain = np.unique(values)
    counts = value_counts(units, values, np.asarray(domain))
    pairable = counts.sum(1) >= 2
    if not pairable.any():
        raise ValueError("no unit was rated by two or more raters, so agreement is undefined")
    o = coincidences(counts)
    n_c = o.sum(1)
    n = n_c.sum()
    d2 = distance(metric, domain, n_c)
    d_o = float((o * d2).sum() / n)
    d_e = float((np.outer(n_c, n_c) * d2).sum() / (n * (n - 1)))
    if d_e == 0:
        raise ValueError("all pairable values are identical, so alpha is undefined (no variation)")
    return {"alpha": 1.0 - d_o / d_e, "n_units": int(pairable.sum()), "n_pairable": int(n),
            "d_o": d_o, "d_e": d_e}
