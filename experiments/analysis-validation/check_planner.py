"""Check `python -m analysis.power`'s answer by simulating whole studies of the planned size.

    OPENBLAS_NUM_THREADS=1 nice -n 10 python experiments/analysis-validation/check_planner.py \
        --raters 45 --clips 60 --studies 200

Studies come from analysis.simulate (discrete 1-5 scores, rater bias and scale use, rater x
system, clip x system and rater x clip effects: simulate.HETEROGENEOUS) with two systems whose
expected MOS differ by --diff on every axis; every rater rates every clip with both systems.
Each study is analysed with the library's crossed test (paired.compare, "overall"); power is
the share with p < 0.05. Writes results/planner_check_<raters>x<clips>.json.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from analysis import paired, simulate

OUT = Path(__file__).parent / "results"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--raters", type=int, required=True)
    ap.add_argument("--clips", type=int, required=True)
    ap.add_argument("--diff", type=float, default=0.2)
    ap.add_argument("--studies", type=int, default=200)
    ap.add_argument("--seed0", type=int, default=300000)
    a = ap.parse_args()
    truth = (("A", (3.0,) * 3), ("B", (3.0 + a.diff,) * 3))
    cfg = simulate.SimConfig(n_participants=a.raters, n_clips=a.clips, n_trials=a.clips,
                             truth=truth, **simulate.HETEROGENEOUS)
    hits, t0 = [], time.time()
    path = OUT / f"planner_check_{a.raters}x{a.clips}.json"
    for i in range(a.studies):
        df = simulate.simulate_ratings(cfg, a.seed0 + i)
        hits.append(paired.compare(df, "overall", "B", "A", "crossed")["p"] < 0.05)
        if (i + 1) % 20 == 0 or i + 1 == a.studies:
            from validate import rate      # the same Wilson interval as the other runs
            OUT.mkdir(exist_ok=True)
            path.write_text(json.dumps({"raters": a.raters, "clips": a.clips, "diff": a.diff,
                                        "studies_done": i + 1, "power": rate(hits),
                                        "wall_s": round(time.time() - t0, 1)}, indent=1))
            print(i + 1, sum(hits) / len(hits), flush=True)


if __name__ == "__main__":
    main()
