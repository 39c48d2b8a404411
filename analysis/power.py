"""Sample-size planning: how many raters and clips detect a given MOS difference.

    python -m analysis.power --diff 0.2 --power 0.8                  # assumed components
    python -m analysis.power --diff 0.2 --power 0.8 --pilot ratings.csv --axis overall

The model is the mixed model of `analysis.mixed`, for one pair of systems in a fully crossed
design (every rater hears every clip with both systems). In a difference of two systems'
scores the rater and clip main effects cancel, so each rater x clip difference is

    d[r, c] = diff + u[r] + v[c] + e[r, c],
    u ~ N(0, 2 var_rater_system), v ~ N(0, 2 var_clip_system), e ~ N(0, 2 var_residual).

Each simulated study is analysed with the model's contrast test, which on a complete table is
the crossed t (`paired.crossed_variance`: (MS_rater + MS_clip - MS_residual) / (R C) on
Satterthwaite df; the REML answer when no component is at 0). Power is the share of simulated
studies with p < alpha. For each number of clips the planner finds the fewest raters that reach
the power; with clip x system variance, more raters alone cannot make up for too few clips
(the variance never falls below 2 var_clip_system / C), and the table says so.
The components come from a pilot study (fitted by `analysis.mixed`) or are given; the
defaults are those of `analysis.simulate`'s heterogeneous paper design (see DEFAULTS).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np
import pandas as pd
from scipy import stats

# Variance components (MOS scale) that analysis.mixed estimates on simulate's "paper-crossed"
# design (18 raters x 10 clips, simulate.HETEROGENEOUS: rater x system and clip x system sd 0.3
# on the latent scale), averaged over its three axes and 12 simulated studies
# (experiments/analysis-validation/README.md).
DEFAULTS = {"rater_system": 0.074, "clip_system": 0.072, "residual": 0.74}


@dataclasses.dataclass(frozen=True)
class Components:
    rater_system: float
    clip_system: float
    residual: float

    def __post_init__(self):
        for k, v in dataclasses.asdict(self).items():
            if not (np.isfinite(v) and v >= 0):
                raise ValueError(f"variance component {k} must be a finite number >= 0, got {v}")
        if self.residual <= 0:
            raise ValueError("the residual variance must be > 0")


def simulate_power(comp: Components, diff: float, n_raters: int, n_clips: int,
                   n_sims: int = 2000, alpha: float = 0.05, seed: int = 0) -> float:
    """Share of `n_sims` simulated studies whose crossed t test has p < alpha (two-sided)."""
    if n_raters < 2 or n_clips < 2:
        raise ValueError("a design needs at least 2 raters and 2 clips")
    rng = np.random.default_rng(seed)
    r, c = n_raters, n_clips
    power, done = 0, 0
    chunk = max(1, min(n_sims, 4_000_000 // (r * c)))
    while done < n_sims:
        n = min(chunk, n_sims - done)
        u = rng.normal(0, np.sqrt(2 * comp.rater_system), (n, r, 1))
        v = rng.normal(0, np.sqrt(2 * comp.clip_system), (n, 1, c))
        e = rng.normal(0, np.sqrt(2 * comp.residual), (n, r, c))
        power += int(np.sum(crossed_p(diff + u + v + e) < alpha))
        done += n
    return power / n_sims


def crossed_p(tables: np.ndarray) -> np.ndarray:
    """Two-sided p of the crossed t for a stack of complete (n, R, C) difference tables
    (vectorised `paired.crossed_variance`)."""
    _, r, c = tables.shape
    grand = tables.mean((1, 2))
    row, col = tables.mean(2), tables.mean(1)
    ms_r = c * np.sum((row - grand[:, None]) ** 2, 1) / (r - 1)
    ms_c = r * np.sum((col - grand[:, None]) ** 2, 1) / (c - 1)
    df_e = (r - 1) * (c - 1)
    resid = tables - row[:, :, None] - col[:, None, :] + grand[:, None, None]
    ms_e = np.sum(resid**2, (1, 2)) / df_e
    quasi = ms_r + ms_c - ms_e
    combo = np.maximum.reduce([quasi, ms_r, ms_c])
    den = np.where(combo == quasi, ms_r**2 / (r - 1) + ms_c**2 / (c - 1) + ms_e**2 / df_e,
                   np.where(combo == ms_r, ms_r**2 / (r - 1), ms_c**2 / (c - 1)))
    dof = combo**2 / den
    t = grand / np.sqrt(combo / (r * c))
    return 2 * stats.t.sf(np.abs(t), dof)


def approx_power(comp: Components, diff: float, n_raters: int, n_clips: int,
                 alpha: float = 0.05) -> float:
    """Noncentral-t approximation of the same power (Satterthwaite df at the true components)."""
    r, c = n_raters, n_clips
    a, b, e = 2 * comp.rater_system / r, 2 * comp.clip_system / c, 2 * comp.residual / (r * c)
    v = a + b + e
    dof = v**2 / ((a + e) ** 2 / (r - 1) + (b + e) ** 2 / (c - 1) + e**2 / ((r - 1) * (c - 1)))
    q = stats.t.ppf(1 - alpha / 2, dof)
    ncp = diff / np.sqrt(v)
    return float(stats.nct.sf(q, dof, ncp) + stats.nct.cdf(-q, dof, ncp))


def raters_needed(comp: Components, diff: float, n_clips: int, power: float = 0.8,
                  alpha: float = 0.05, max_raters: int = 500, n_sims: int = 2000,
                  seed: int = 0) -> tuple[int | None, float]:
    """(fewest raters reaching `power` with `n_clips` clips, its simulated power); (None, power
    at max_raters) when even max_raters fall short."""
    def pw(r):
        return simulate_power(comp, diff, r, n_clips, n_sims, alpha, seed)

    top = pw(max_raters)
    if top < power:
        return None, top
    lo, hi = 2, max_raters                      # invariant: pw(hi) >= power
    # the noncentral-t guess brackets the answer quickly; the simulation decides
    guess = next((r for r in range(2, max_raters + 1)
                  if approx_power(comp, diff, r, n_clips, alpha) >= power), max_raters)
    for r in (max(2, guess - 4), guess + 4):
        if lo < r < hi:
            if pw(r) >= power:
                hi = r
            else:
                lo = r
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if pw(mid) >= power:
            hi = mid
        else:
            lo = mid
    if lo == 2 and pw(2) >= power:
        hi = 2
    return hi, pw(hi)


def plan(comp: Components, diff: float, power: float = 0.8, clips=(10, 15, 20, 30, 40),
         alpha: float = 0.05, max_raters: int = 500, n_sims: int = 2000,
         seed: int = 0) -> pd.DataFrame:
    """One row per number of clips: raters needed, simulated and approximate power, ratings per
    system pair (raters x clips x 2)."""
    rows = []
    for c in clips:
        r, p = raters_needed(comp, diff, c, power, alpha, max_raters, n_sims, seed)
        rows.append({"clips": c, "raters": r, "power_sim": p,
                     "power_approx": approx_power(comp, diff, r, c, alpha) if r else np.nan,
                     "ratings_per_pair": 2 * r * c if r else np.nan,
                     "note": "" if r else f"unreachable with {max_raters} raters: add clips"})
    return pd.DataFrame(rows)


def pilot_components(path: str, axis: str | None = None, study=None) -> tuple[Components, str]:
    """Components fitted by the mixed model on a pilot study (one axis; default the first)."""
    from analysis import mixed, mos

    df = mos.load_ratings(path, study=study)
    axes = mos.axes_of(df)
    axis = axis or axes[0]
    if axis not in axes:
        raise ValueError(f"axis {axis!r} is not in the pilot (it has {axes})")
    d = df[df["axis"] == axis]
    d.attrs = dict(df.attrs, axes=[axis])
    comp = mixed.mixed_model(d)[axis].components
    return Components(comp["rater_system"], comp["clip_system"], comp["residual"]), axis


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.power", description=__doc__.splitlines()[0])
    ap.add_argument("--diff", type=float, required=True, help="MOS difference to detect, e.g. 0.2")
    ap.add_argument("--power", type=float, default=0.8)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--pilot", help="pilot ratings (.csv, .parquet or database URL)")
    ap.add_argument("--study", default=None, help="study id or name in a pilot database")
    ap.add_argument("--axis", default=None, help="pilot axis to take the components from")
    for k, v in DEFAULTS.items():
        ap.add_argument(f"--{k.replace('_', '-')}", type=float, default=None,
                        help=f"variance of the {k.replace('_', ' x ')} term (default {v})")
    ap.add_argument("--clips", default="10,15,20,30,40", help="numbers of clips to plan for")
    ap.add_argument("--max-raters", type=int, default=500)
    ap.add_argument("--sims", type=int, default=2000, help="simulated studies per design")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        if not 0 < args.power < 1 or not 0 < args.alpha < 1 or args.diff == 0:
            raise ValueError("need 0 < power < 1, 0 < alpha < 1 and a non-zero --diff")
        clips = [int(c) for c in args.clips.split(",") if c.strip()]
        if not clips or min(clips) < 2:
            raise ValueError("--clips needs numbers >= 2")
        if args.pilot:
            comp, axis = pilot_components(args.pilot, args.axis, args.study)
            source = f"pilot {args.pilot} ({axis})"
        else:
            comp, source = Components(**DEFAULTS), "assumed (defaults)"
        given = {k: getattr(args, k) for k in DEFAULTS if getattr(args, k) is not None}
        if given:
            comp = dataclasses.replace(comp, **given)
            source += f", overridden: {given}"
    except (ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"components ({source}): rater x system {comp.rater_system:.4g}, clip x system "
          f"{comp.clip_system:.4g}, residual {comp.residual:.4g}")
    print(f"to detect a MOS difference of {args.diff:g} with power {args.power:g} at alpha "
          f"{args.alpha:g} ({args.sims} simulated studies per design):")
    tab = plan(comp, args.diff, args.power, clips, args.alpha, args.max_raters, args.sims, args.seed)
    print(tab.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
