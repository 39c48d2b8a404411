"""Type-I error, power and interval coverage of analysis/'s tests on simulated studies.

    OPENBLAS_NUM_THREADS=1 nice -n 10 python experiments/analysis-validation/validate.py \
        --part null --studies 1000 --mixed-every 4

Parts (each writes results/<part>.json, updated every 25 studies, so a stopped run keeps its
numbers):
- null:    the paper's design (18 raters x the same 10 clips x 3 systems) with no true
           difference and heterogeneous raters and clips (simulate.HETEROGENEOUS); one
           pre-specified contrast (A vs B, overall) per study at alpha 0.05, for the old
           participant x clip Wilcoxon ("trial"), the rater-level signed-rank ("rater"), the
           crossed t ("crossed") and the mixed model ("mixed", every --mixed-every'th study); plus
           the coverage of the mixed model's and the rater-clustered intervals for the means.
- null-nocs: the same without clip x system effects (where the rater-level test is valid).
- table1:  the paper's Table 1 means with the same heterogeneity: power of each contrast
           (Holm within axis, as the report does) and coverage of the system-mean intervals.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import numpy as np
from scipy import stats

from analysis import mixed, mos, paired, simulate

OUT = Path(__file__).parent / "results"
FAST = ("trial", "rater", "crossed")


def wilson(k: int, n: int, z: float = 1.959964) -> list[float]:
    if n == 0:
        return [float("nan")] * 2
    p = k / n
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [float(c - h), float(c + h)]


def rate(hits: list[bool]) -> dict:
    k, n = int(np.sum(hits)), len(hits)
    return {"rate": k / n if n else float("nan"), "k": k, "n": n, "ci95": wilson(k, n)}


def config(part: str) -> simulate.SimConfig:
    if part == "null":
        return simulate.PRESETS["null-crossed"]
    if part == "null-nocs":
        return dataclasses.replace(simulate.PRESETS["null-crossed"], clip_system_sd=0.0)
    if part == "table1":
        return simulate.PRESETS["paper-crossed"]
    raise SystemExit(f"unknown part {part}")


def covered(tab, truth, lo="ci_low", hi="ci_high") -> list[bool]:
    t = tab.merge(truth, on=["system", "axis"])
    return ((t[lo] <= t["true_mean"]) & (t["true_mean"] <= t[hi])).tolist()


def run(part: str, n_studies: int, mixed_every: int, seed0: int, tag: str = "") -> dict:
    cfg = config(part)
    truth = simulate.true_means(cfg)
    null = part.startswith("null")
    axes = ["overall"] if null else list(simulate.AXES)
    sysA, sysB = cfg.systems[0], cfg.systems[1]
    rec: dict = {m: [] for m in FAST + ("mixed",)}
    rec_pairs: dict = {}
    cov = {"mixed": [], "rater_t": [], "rater_boot": []}
    fit_s, not_conv = [], 0
    path = OUT / f"{part}{tag}.json"
    t0 = time.time()
    for i in range(n_studies):
        df = simulate.simulate_ratings(cfg, seed0 + i)
        if null:
            for m in FAST:
                rec[m].append(paired.compare(df, "overall", sysA, sysB, m)["p"] < 0.05)
        else:
            for m in FAST:
                pw = paired.pairwise_tests(df, method=m)
                for r in pw.itertuples():
                    rec_pairs.setdefault(f"{m}|{r.axis}|{r.system_a}-{r.system_b}", []).append(r.significant)
        if mixed_every and i % mixed_every == 0:
            d = df[df["axis"].isin(axes)]
            d.attrs = dict(df.attrs, axes=axes)
            t1 = time.time()
            fits = mixed.mixed_model(d)
            fit_s.append((time.time() - t1) / len(axes))
            not_conv += sum(not f.converged for f in fits.values())
            if null:
                c = fits["overall"].contrasts
                row = c[(c.system_a == sysA) & (c.system_b == sysB)].iloc[0]
                rec["mixed"].append(row["p"] < 0.05)
            else:
                for r in mixed.contrast_tests(fits).itertuples():
                    rec_pairs.setdefault(f"mixed|{r.axis}|{r.system_a}-{r.system_b}", []).append(r.significant)
            cov["mixed"] += covered(mixed.means_table(fits), truth)
            cov["rater_t"] += covered(mos.mos_table(d), truth)
            cov["rater_boot"] += covered(mos.mos_table(d, ci="bootstrap", n_boot=1000, seed=i), truth)
        if (i + 1) % 25 == 0 or i + 1 == n_studies:
            res = {"part": part, "config": {k: v for k, v in dataclasses.asdict(cfg).items()},
                   "studies_done": i + 1, "seed0": seed0, "alpha": 0.05,
                   "wall_s": round(time.time() - t0, 1),
                   "mixed_fit_s_mean": float(np.mean(fit_s)) if fit_s else None,
                   "mixed_fits_not_converged": not_conv,
                   "coverage_of_means": {k: rate(v) for k, v in cov.items() if v}}
            if null:
                res["rejection_rate"] = {m: rate(v) for m, v in rec.items() if v}
            else:
                res["power"] = {k: rate(v) for k, v in sorted(rec_pairs.items())}
            OUT.mkdir(exist_ok=True)
            path.write_text(json.dumps(res, indent=1, default=str))
            print(part, i + 1, {k: round(v["rate"], 3) for k, v in
                                (res.get("rejection_rate") or {}).items()}, flush=True)
    return res


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--part", required=True, choices=["null", "null-nocs", "table1"])
    ap.add_argument("--studies", type=int, default=1000)
    ap.add_argument("--mixed-every", type=int, default=4, help="every k-th study also gets the mixed model")
    ap.add_argument("--seed0", type=int, default=0)
    ap.add_argument("--tag", default="", help="suffix of the results file name")
    a = ap.parse_args()
    run(a.part, a.studies, a.mixed_every, a.seed0, a.tag)
