"""results/*.json -> results/RESULTS.md (tables of rejection rates, power and coverage)."""
from __future__ import annotations

import json
from pathlib import Path

OUT = Path(__file__).parent / "results"


def fmt(r: dict) -> str:
    lo, hi = r["ci95"]
    return f"{r['rate']:.3f} [{lo:.3f}, {hi:.3f}] ({r['k']}/{r['n']})"


def main() -> None:
    lines = ["# Analysis validation: results", "",
             "Rates with 95 % Wilson intervals (hits / studies or cells). Written by summarize.py.", ""]
    for f in sorted(OUT.glob("*.json")):
        r = json.loads(f.read_text())
        lines += [f"## {f.stem}", ""]
        if "part" in r:
            lines.append(f"{r['studies_done']} studies from seed {r['seed0']}, {r['wall_s']} s; mixed "
                         f"model {r['mixed_fit_s_mean'] or 0:.1f} s a fit, "
                         f"{r['mixed_fits_not_converged']} fit(s) not converged.")
            lines.append("")
            for key, title in (("rejection_rate", "rejection rate at alpha 0.05 (no true difference)"),
                               ("power", "power (Holm within axis)"),
                               ("coverage_of_means", "coverage of the 95 % intervals of the system means")):
                if r.get(key):
                    lines += [f"| {title} | rate [95 % CI] (k/n) |", "|---|---|"]
                    lines += [f"| {k} | {fmt(v)} |" for k, v in r[key].items()]
                    lines.append("")
        else:
            lines += [f"{r['raters']} raters x {r['clips']} clips, true difference {r['diff']}: power of the "
                      f"crossed test {fmt(r['power'])}, {r['wall_s']} s.", ""]
    (OUT / "RESULTS.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
