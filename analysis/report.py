"""`python -m analysis.report --ratings URL_OR_FILE [--out DIR]`: the MOS table without a notebook.

Prints the paper-layout table, the mixed-effects model beside it, the significance and
agreement summaries, and writes to DIR:
- mos_table.md, .tex, .csv (one row per system x axis: system, axis, n, mean, std, ci_low,
  ci_high), mos_bars.png and score_distribution.png;
- pairwise_tests.csv: every test of every pair of systems per axis, one row per test, columns
  axis, system_a, system_b, method, statistic, p, p_holm, effect (then effect_kind, n_raters,
  n_clips, n_pairs, mean_diff, ci_low, ci_high, df, significant). Methods: "crossed" (rater
  and clip random), "rater" (signed-rank over raters), "mixed" (the mixed model's contrast)
  and "trial" (participant x clip pairs as independent: pseudo-replicated, shown for
  comparison only; do not report it);
- mixed_means.csv, mixed_components.csv and mos_vs_mixed.csv / .md: the model's system means
  next to the rater-clustered bootstrap table, with the cells where they disagree.
`--no-mixed` skips the model (a few seconds per axis).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from analysis import mixed, mos, paired

CSV_COLUMNS = ["system", "axis", "n", "mean", "std", "ci_low", "ci_high"]
TEST_METHODS = ("crossed", "rater", "trial")


def write_table(tab, out: Path) -> dict[str, Path]:
    """Writes the three table files; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    wide = mos.format_table(tab)
    paths = {"md": out / "mos_table.md", "tex": out / "mos_table.tex", "csv": out / "mos_table.csv"}
    paths["md"].write_text(mos.to_markdown(wide))
    paths["tex"].write_text(mos.to_latex(wide))
    tab[CSV_COLUMNS].to_csv(paths["csv"], index=False)
    return paths


def write_plots(df, tab, out: Path, exclude=None) -> dict[str, Path]:
    from analysis import plots

    paths = {"bars": out / "mos_bars.png", "dist": out / "score_distribution.png"}
    plots.mos_bars(tab).savefig(paths["bars"], dpi=120)
    plots.score_distributions(mos.score_distribution(df, exclude=exclude)).savefig(paths["dist"], dpi=120)
    return paths


def all_tests(df, exclude=None, fits=None) -> pd.DataFrame:
    """Every pairwise test (each method, and the mixed model's contrasts when `fits` is given)."""
    parts = [paired.pairwise_tests(df, exclude=exclude, method=m) for m in TEST_METHODS]
    if fits:
        parts.append(mixed.contrast_tests(fits)[paired.COLUMNS])
    return pd.concat(parts, ignore_index=True)


def write_mixed(df, fits, out: Path, exclude=None, seed: int = 0) -> tuple[dict[str, Path], pd.DataFrame]:
    """The model's means and components, and its side-by-side with the bootstrap table."""
    boot = mos.mos_table(df, ci="bootstrap", exclude=exclude, seed=seed)
    both = mixed.side_by_side(boot, mixed.means_table(fits))
    paths = {"mixed_means": out / "mixed_means.csv", "mixed_components": out / "mixed_components.csv",
             "side_csv": out / "mos_vs_mixed.csv", "side_md": out / "mos_vs_mixed.md"}
    mixed.means_table(fits).to_csv(paths["mixed_means"], index=False)
    mixed.components_table(fits).to_csv(paths["mixed_components"], index=False)
    both.to_csv(paths["side_csv"], index=False)
    cells = both.assign(
        bootstrap=[f"{m:.2f} [{lo:.2f}, {hi:.2f}]" for m, lo, hi in
                   zip(both.boot_mean, both.boot_low, both.boot_high)],
        mixed_model=[f"{m:.2f} [{lo:.2f}, {hi:.2f}]" for m, lo, hi in
                     zip(both.mixed_mean, both.mixed_low, both.mixed_high)])
    wide = cells.set_index(["system", "axis"])[["bootstrap", "mixed_model", "disagree"]]
    wide.index = [f"{s} / {a}" for s, a in wide.index]
    wide.index.name = "system / axis"
    paths["side_md"].write_text(mos.to_markdown(wide))
    return paths, both


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.report", description=__doc__.splitlines()[0])
    ap.add_argument("--ratings", required=True, help="database URL (sqlite:///study.db), .csv or .parquet")
    ap.add_argument("--study", default=None, help="study id or name (database only; default: newest)")
    ap.add_argument("--out", default="out/analysis", help="output folder (default: out/analysis)")
    ap.add_argument("--ci", choices=["t", "bootstrap"], default="t")
    ap.add_argument("--exclude", default="", help="comma-separated participant ids to leave out")
    ap.add_argument("--exclude-flagged", action="store_true",
                    help="also leave out the raters that screening flags (listed in the output)")
    ap.add_argument("--no-mixed", action="store_true", help="skip the mixed-effects model")
    args = ap.parse_args(argv)
    try:
        df = mos.load_ratings(args.ratings, study=args.study)
        exclude = [x for x in args.exclude.split(",") if x]
        screen = mos.screen_raters(df) if df["participant_id"].nunique() >= 2 else None
        if screen is not None and screen["flagged"].any():
            print("screening flags:", ", ".join(f"{r.participant_id} ({r.flags})"
                                              for r in screen[screen["flagged"]].itertuples()))
        if args.exclude_flagged and screen is not None:
            exclude += [p for p in mos.flagged_raters(screen) if p not in exclude]
        tab = mos.mos_table(df, ci=args.ci, exclude=exclude)
    except (mos.RatingsError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    out = Path(args.out)
    paths = write_table(tab, out)
    paths.update(write_plots(df, tab, out, exclude))
    dropped = tab.attrs.get("excluded_participants") or []
    print(f"MOS ({args.ci} 95% CI, clustered by rater); excluded raters: {dropped or 'none'}")
    print(mos.format_table(tab).to_string())
    fits = None
    if not args.no_mixed:
        try:
            fits = mixed.mixed_model(df, exclude=exclude)
            mp, both = write_mixed(df, fits, out, exclude)
            paths.update(mp)
            print("mixed model (rater, clip, rater x system, clip x system random) beside the "
                  "rater-clustered bootstrap:")
            print(mp["side_md"].read_text())
            bad = both[both["disagree"] != ""]
            print(f"they disagree on {len(bad)} of {len(both)} cells" + (
                ": the bootstrap resamples raters only (clips fixed), the model also clips"
                if len(bad) else ""))
            if not all(f.converged for f in fits.values()):
                print("warning: the mixed model did not converge on",
                      [a for a, f in fits.items() if not f.converged])
        except mos.RatingsError as e:
            print(f"mixed model: skipped ({e})")
    try:
        tests = all_tests(df, exclude, fits)
        paths["tests"] = out / "pairwise_tests.csv"
        tests.to_csv(paths["tests"], index=False)
        show = tests[tests["method"] != "trial"][["axis", "system_a", "system_b", "method", "mean_diff",
                                                  "statistic", "p", "p_holm", "effect"]]
        print(show.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    except mos.RatingsError as e:
        print(f"pairwise: skipped ({e})")
    try:
        print(mos.agreement_table(df, exclude=exclude).to_string(
            index=False, float_format=lambda v: f"{v:.3g}"))
    except mos.RatingsError as e:
        print(f"agreement: skipped ({e})")
    print("wrote", ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
