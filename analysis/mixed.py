"""A linear mixed-effects model of the scores, one fit per axis (statsmodels MixedLM, REML).

    score = mu[system] + rater + clip + rater x system + clip x system + residual

Fixed effect: the system. Crossed random effects, as variance components of a single group
(statsmodels' way of crossing factors): rater and clip, plus rater x system (raters prefer
systems differently) and clip x system (clips suit systems differently) where the design
allows (a rater heard a system on two or more clips; a clip was heard with a system by two or
more raters). The system means and every pairwise contrast get t intervals whose standard
error is the model's (GLS, REML variance components) and whose degrees of freedom are
Satterthwaite's for a rater x clip table with those components (a contrast's terms pooled over
the S systems, as in the balanced ANOVA: MS_rater x system + MS_clip x system - MS_residual;
exact for a complete, balanced design, an approximation otherwise). Effects are Westfall, Kenny & Judd (2014)'s d:
the contrast over the square root of the summed variance components.

The clustered-bootstrap MOS table (`mos.mos_table`) resamples raters only, so it treats the
clips as fixed; this model also generalises over clips. `side_by_side` shows both and says
where they disagree.
"""
from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy import stats as sps
from statsmodels.regression.mixed_linear_model import MixedLM, MixedLMParams, VCSpec

from analysis.errors import TooFewRatersError
from analysis.ratings import axes_of, check_cells, select, systems_of
from analysis.stats import holm

TERMS = ("rater", "clip", "rater_system", "clip_system")


@dataclasses.dataclass(frozen=True)
class AxisFit:
    """One axis: the system means and contrasts with intervals, and the fitted components."""
    axis: str
    means: pd.DataFrame        # system, mean, se, df, ci_low, ci_high
    contrasts: pd.DataFrame    # system_a, system_b, diff, se, df, ci_low, ci_high, t, p, effect
    components: dict           # variance of each random term and "residual"
    converged: bool
    n_raters: int
    n_clips: int


def random_terms(d: pd.DataFrame) -> list[str]:
    """The random terms this design can estimate (see the module doc)."""
    terms = []
    if d["participant_id"].nunique() >= 2:
        terms.append("rater")
    if d["clip"].nunique() >= 2:
        terms.append("clip")
    if d["system"].nunique() >= 2:
        if d.groupby(["participant_id", "system"])["clip"].nunique().max() >= 2:
            terms.append("rater_system")
        if d.groupby(["clip", "system"])["participant_id"].nunique().max() >= 2:
            terms.append("clip_system")
    return terms


def _design(d: pd.DataFrame, systems: list[str], terms: list[str]):
    """endog (N,), exog (N, S) system indicators, exog_vc: one (N, levels) indicator per term."""
    keys = {"rater": d["participant_id"], "clip": d["clip"],
            "rater_system": d["participant_id"] + "\x1f" + d["system"],
            "clip_system": d["clip"] + "\x1f" + d["system"]}
    exog = (d["system"].to_numpy()[:, None] == np.array(systems)[None, :]).astype(np.float64)
    names, cols, mats = [], [], []
    for t in terms:
        codes, levels = pd.factorize(keys[t])
        names.append(t)
        cols.append([[f"{t}[{v}]" for v in levels]])
        mats.append([np.eye(len(levels))[codes]])
    return d["score"].to_numpy(np.float64), exog, VCSpec(names, cols, mats)


def satterthwaite_df(a: float, b: float, e: float, n_r: int, n_c: int, n_cells: int,
                     pooled: int = 1) -> float:
    """df of V = a + b + e, where a is the rater part, b the clip part and e the residual part of
    the variance of a mean over an R x C table (mean squares (a + e), (b + e), e times R C, on
    R - 1, C - 1 and the residual df). `pooled` > 1 multiplies every df: a contrast's rater x
    system, clip x system and residual terms are estimated from all S systems, on (R - 1)(S - 1),
    (C - 1)(S - 1) and (R - 1)(C - 1)(S - 1) df in a balanced design."""
    df_e = max(n_cells - n_r - n_c + 1, 1) * pooled
    den = ((a + e) ** 2 / (max(n_r - 1, 1) * pooled) + (b + e) ** 2 / (max(n_c - 1, 1) * pooled)
           + e**2 / df_e)
    return float((a + b + e) ** 2 / den) if den > 0 else float(df_e)


def fit_axis(d: pd.DataFrame, systems: list[str], level: float = 0.95) -> AxisFit:
    """REML fit of one axis's scores (already selected: no checks, no excluded raters)."""
    axis = str(d["axis"].iloc[0]) if len(d) else "?"
    n_r, n_c = d["participant_id"].nunique(), d["clip"].nunique()
    if n_r < 2:
        raise TooFewRatersError(f"{axis}: the mixed model needs at least 2 raters, got {n_r}")
    terms = random_terms(d)
    y, x, vc = _design(d, systems, terms)
    model = MixedLM(y, x, groups=np.zeros(len(y)), exog_vc=vc)
    cell_means = np.array([y[x[:, k] == 1].mean() for k in range(len(systems))])
    start = MixedLMParams.from_components(fe_params=cell_means, cov_re=np.zeros((0, 0)),
                                          vcomp=np.full(len(terms), 0.2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")    # boundary notes; L-BFGS first, Powell if it stalls
        res = model.fit(reml=True, start_params=start, method=["lbfgs", "powell"], maxiter=100)
    comp = dict(zip(terms, np.maximum(np.asarray(res.vcomp, dtype=np.float64), 0.0)))
    comp = {t: float(comp.get(t, 0.0)) for t in TERMS} | {"residual": float(res.scale)}
    cov = np.asarray(res.cov_params())[: len(systems), : len(systems)]
    beta = np.asarray(res.fe_params, dtype=np.float64)
    n_s = x.sum(0)
    rows = []
    for k, s in enumerate(systems):
        se = float(np.sqrt(cov[k, k]))
        dof = satterthwaite_df((comp["rater"] + comp["rater_system"]) / n_r,
                               (comp["clip"] + comp["clip_system"]) / n_c,
                               comp["residual"] / n_s[k], n_r, n_c, int(n_s[k]))
        q = sps.t.ppf(0.5 + level / 2, dof)
        rows.append({"system": s, "mean": float(beta[k]), "se": se, "df": dof,
                     "ci_low": float(beta[k] - q * se), "ci_high": float(beta[k] + q * se)})
    total_sd = float(np.sqrt(sum(comp.values())))
    crow = []
    for i, a in enumerate(systems):
        for j in range(i + 1, len(systems)):
            b = systems[j]
            diff = float(beta[i] - beta[j])
            se = float(np.sqrt(max(cov[i, i] + cov[j, j] - 2 * cov[i, j], 0.0)))
            n_pair = min(n_s[i], n_s[j])
            dof = satterthwaite_df(2 * comp["rater_system"] / n_r, 2 * comp["clip_system"] / n_c,
                                   comp["residual"] * (1 / n_s[i] + 1 / n_s[j]), n_r, n_c, int(n_pair),
                                   pooled=len(systems) - 1)
            q = sps.t.ppf(0.5 + level / 2, dof)
            t = diff / se if se > 0 else 0.0
            crow.append({"system_a": a, "system_b": b, "diff": diff, "se": se, "df": dof,
                         "ci_low": diff - q * se, "ci_high": diff + q * se, "t": t,
                         "p": float(2 * sps.t.sf(abs(t), dof)) if se > 0 else 1.0,
                         "effect": diff / total_sd if total_sd > 0 else 0.0})
    return AxisFit(axis, pd.DataFrame(rows), pd.DataFrame(crow), comp, bool(res.converged), n_r, n_c)


def mixed_model(df: pd.DataFrame, exclude: Iterable[str] | None = None, drop_marked: bool = True,
                level: float = 0.95) -> dict[str, AxisFit]:
    """{axis: AxisFit} for every axis of the study (exclusions as in `mos.select`)."""
    d = select(df, exclude, drop_marked)
    systems, axes = systems_of(df), axes_of(df)
    check_cells(d, systems, axes)
    return {a: fit_axis(d[d["axis"] == a], systems, level) for a in axes}


def means_table(fits: dict[str, AxisFit]) -> pd.DataFrame:
    """Tidy: system, axis, mean, se, df, ci_low, ci_high (one row per system x axis)."""
    return pd.concat([f.means.assign(axis=a) for a, f in fits.items()], ignore_index=True)[
        ["system", "axis", "mean", "se", "df", "ci_low", "ci_high"]]


def contrast_tests(fits: dict[str, AxisFit], alpha: float = 0.05) -> pd.DataFrame:
    """The pairwise contrasts in `pairwise_tests`' columns (method "mixed"), Holm per axis."""
    rows = []
    for a, f in fits.items():
        c = f.contrasts
        for r, q in zip(c.itertuples(), holm(c["p"].to_numpy())):
            rows.append({"axis": a, "system_a": r.system_a, "system_b": r.system_b,
                         "method": "mixed", "statistic": r.t, "p": r.p, "p_holm": float(q),
                         "effect": r.effect, "effect_kind": "d (WKJ 2014)", "n_raters": f.n_raters,
                         "n_clips": f.n_clips, "n_pairs": np.nan, "mean_diff": r.diff,
                         "ci_low": r.ci_low, "ci_high": r.ci_high, "df": r.df,
                         "significant": bool(q < alpha)})
    return pd.DataFrame(rows)


def components_table(fits: dict[str, AxisFit]) -> pd.DataFrame:
    """One row per axis: the variance of each random term, the residual, and convergence."""
    return pd.DataFrame([{"axis": a, **f.components, "converged": f.converged}
                         for a, f in fits.items()])


def side_by_side(boot: pd.DataFrame, mixed: pd.DataFrame, tol: float = 0.25) -> pd.DataFrame:
    """The clustered-bootstrap MOS table next to the mixed model's means, per system x axis.

    `disagree` names what differs: "mean" when the two point estimates differ by more than 0.05
    MOS (an unbalanced design weighs raters and clips differently); "width" when the half-widths
    differ by more than `tol` relative (the bootstrap treats clips as fixed, the model as random).
    """
    m = mixed.rename(columns={"mean": "mixed_mean", "ci_low": "mixed_low", "ci_high": "mixed_high"})
    b = boot.rename(columns={"mean": "boot_mean", "ci_low": "boot_low", "ci_high": "boot_high"})
    out = b[["system", "axis", "boot_mean", "boot_low", "boot_high"]].merge(
        m[["system", "axis", "mixed_mean", "mixed_low", "mixed_high"]], on=["system", "axis"])
    hb = (out["boot_high"] - out["boot_low"]) / 2
    hm = (out["mixed_high"] - out["mixed_low"]) / 2
    out["width_ratio"] = hm / hb.where(hb > 0)
    flags = []
    for r, ratio in zip(out.itertuples(), out["width_ratio"]):
        f = []
        if abs(r.boot_mean - r.mixed_mean) > 0.05:
            f.append("mean")
        if not np.isfinite(ratio) or abs(ratio - 1) > tol:
            f.append("width")
        flags.append(",".join(f))
    out["disagree"] = flags
    return out
