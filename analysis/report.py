"""`python -m analysis.report --ratings URL_OR_FILE [--out DIR]`: the MOS table without a notebook.

Prints the paper-layout table (and the significance and agreement summaries) and writes
DIR/mos_table.md, .tex, .csv (one row per system x axis: system, axis, n, mean, std, ci_low,
ci_high) plus DIR/mos_bars.png and DIR/score_distribution.png.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from analysis import mos

CSV_COLUMNS = ["system", "axis", "n", "mean", "std", "ci_low", "ci_high"]


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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.report", description=__doc__.splitlines()[0])
    ap.add_argument("--ratings", required=True, help="database URL (sqlite:///study.db), .csv or .parquet")
    ap.add_argument("--study", default=None, help="study id or name (database only; default: newest)")
    ap.add_argument("--out", default="out/analysis", help="output folder (default: out/analysis)")
    ap.add_argument("--ci", choices=["t", "bootstrap"], default="t")
    ap.add_argument("--exclude", default="", help="comma-separated participant ids to leave out")
    ap.add_argument("--exclude-flagged", action="store_true",
                    help="also leave out the raters that screening flags (listed in the output)")
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
    for what, fn in (("pairwise", mos.pairwise_tests), ("agreement", mos.agreement_table)):
        try:
            res = fn(df, exclude=exclude)
        except mos.RatingsError as e:
            print(f"{what}: skipped ({e})")
            continue
        print(res.to_string(index=False, float_format=lambda v: f"{v:.3g}"))
    print("wrote", ", ".join(str(p) for p in paths.values()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
