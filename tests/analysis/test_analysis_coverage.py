"""Statistical validity on studies whose truth is known (the paper's Table 1 means)."""
import numpy as np
import pytest

from analysis import mos, simulate

TRUE_RANKING = {"overall": ["SALSA-V", "MMAudio", "FoleyCrafter"],
                "quality": ["MMAudio", "SALSA-V", "FoleyCrafter"],
                "sync": ["SALSA-V", "MMAudio", "FoleyCrafter"]}


@pytest.mark.slow
def test_ci_coverage_and_ranking_over_200_paper_sized_studies():
    cfg = simulate.SimConfig()                      # 18 participants x 10 trials x 3 x 3
    truth = simulate.true_means(cfg).set_index(["system", "axis"])["true_mean"]
    covered, covered_iid, ranked = [], [], []
    for seed in range(200):
        df = simulate.simulate_ratings(cfg, seed)
        for out, kw in ((covered, {}), (covered_iid, {"cluster": None})):
            tab = mos.mos_table(df, **kw).set_index(["system", "axis"])
            t = truth.loc[tab.index]
            out.append(((tab["ci_low"] <= t) & (t <= tab["ci_high"])).to_numpy())
            if not kw:
                ranked.append(mos.best_per_axis(tab.reset_index()) == TRUE_RANKING)
    coverage, coverage_iid = np.mean(covered), np.mean(covered_iid)
    print(f"coverage clustered-t {coverage:.3f}, iid-t {coverage_iid:.3f}, ranking {np.mean(ranked):.3f}")
    assert 0.90 <= coverage <= 0.99
    # scores of one rater share its bias: treating them as independent under-covers
    assert coverage_iid < coverage - 0.05
    # SALSA-V vs MMAudio overall differ by only 0.14: at 180 scores the ranking is right in
    # most, not all, simulated studies (measured 0.905)
    assert np.mean(ranked) >= 0.85


def test_ranking_matches_truth_on_a_larger_study():
    for seed in range(3):
        df = simulate.simulate_ratings(simulate.PRESETS["large"], seed)
        assert mos.best_per_axis(mos.mos_table(df)) == TRUE_RANKING
