"""Paired tests at the right unit: the crossed variance by hand, pseudo-replication, columns."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analysis import mos, paired, power, simulate
from analysis.errors import TooFewRatersError


def _diff(table: np.ndarray, drop=()) -> pd.Series:
    r, c = table.shape
    idx = pd.MultiIndex.from_product([[f"p{i}" for i in range(r)], [f"c{j}" for j in range(c)]],
                                     names=["participant_id", "clip"])
    s = pd.Series(table.ravel(), index=idx)
    return s.drop(index=list(drop)) if drop else s


def test_crossed_variance_is_clarks_quasi_f_on_a_complete_table():
    rng = np.random.default_rng(0)
    r, c = 7, 5
    t = rng.normal(size=(r, 1)) * 0.8 + rng.normal(size=(1, c)) * 0.6 + rng.normal(size=(r, c))
    g = t.mean()
    ms_r = c * ((t.mean(1) - g) ** 2).sum() / (r - 1)
    ms_c = r * ((t.mean(0) - g) ** 2).sum() / (c - 1)
    ms_e = ((t - t.mean(1, keepdims=True) - t.mean(0, keepdims=True) + g) ** 2).sum() / ((r - 1) * (c - 1))
    assert ms_r + ms_c - ms_e > max(ms_r, ms_c)          # the interior case of the formula
    v, dof = paired.crossed_variance(_diff(t))
    assert v == pytest.approx((ms_r + ms_c - ms_e) / (r * c))
    sat = (ms_r + ms_c - ms_e) ** 2 / (ms_r**2 / (r - 1) + ms_c**2 / (c - 1) + ms_e**2 / ((r - 1) * (c - 1)))
    assert dof == pytest.approx(sat)
    # the planner's vectorised test is the same test
    p_lib = paired.crossed_t(_diff(t), 1.0)["p"]
    assert power.crossed_p(t[None])[0] == pytest.approx(p_lib)
    assert p_lib == pytest.approx(2 * stats.t.sf(abs(g / np.sqrt(v)), dof))


def test_crossed_variance_on_an_incomplete_table_is_two_way_clustered():
    rng = np.random.default_rng(1)
    t = rng.normal(size=(6, 4)) + rng.normal(size=(6, 1))
    d = _diff(t, drop=[("p0", "c0"), ("p3", "c2")])
    y = d.to_numpy()
    raters, clips = d.index.get_level_values(0), d.index.get_level_values(1)

    def cr1(groups):
        sums = pd.Series(y - y.mean()).groupby(np.asarray(groups)).sum().to_numpy()
        return len(sums) / (len(sums) - 1) * (sums**2).sum() / len(y) ** 2

    expect = cr1(raters) + cr1(clips) - cr1(np.arange(len(y)))
    v, dof = paired.crossed_variance(d)
    assert v == pytest.approx(max(expect, cr1(raters), cr1(clips))) and dof == 3
    with pytest.raises(TooFewRatersError):
        paired.crossed_variance(_diff(t[:1]))


def _study(prefs: dict[str, float], clips: int = 10) -> pd.DataFrame:
    """Raters whose every score of A is 3 + pref and of B is 3 (no noise at all)."""
    rows = [(p, f"c{j}", s, "overall", int(3 + (pref if s == "A" else 0)))
            for p, pref in prefs.items() for j in range(clips) for s in "AB"]
    return mos.load_ratings(pd.DataFrame(rows, columns=["participant_id", "clip", "system", "axis", "score"]))


def test_pseudo_replication_is_what_the_rater_unit_removes():
    # 4 raters like A (+2), 2 like B (-1): the 60 participant x clip pairs look overwhelming,
    # the 6 raters do not
    df = _study({"p1": 2, "p2": 2, "p3": 2, "p4": 2, "p5": -1, "p6": -1})
    trial = paired.compare(df, "overall", "A", "B", "trial")
    rater = paired.compare(df, "overall", "A", "B", "rater")
    assert trial["n_pairs"] == 60 and trial["p"] < 1e-6
    assert rater["n_raters"] == 6 and rater["p"] > 0.1
    assert rater["effect"] == pytest.approx((3 + 4 + 5 + 6 - 1.5 - 1.5) / 21)   # rank-biserial
    assert rater["mean_diff"] == pytest.approx(1.0)


def test_pairwise_tests_columns_holm_and_methods():
    df = simulate.simulate_ratings(simulate.PRESETS["paper-crossed"], seed=3)
    for method in paired.METHODS:
        pw = mos.pairwise_tests(df, method=method)
        assert list(pw.columns[:8]) == ["axis", "system_a", "system_b", "method", "statistic", "p",
                                        "p_holm", "effect"]
        assert len(pw) == 9 and (pw["method"] == method).all() and (pw["p_holm"] >= pw["p"]).all()
        for _, g in pw.groupby("axis"):                  # Holm within an axis: 3 tests
            assert g["p_holm"].max() <= min(1.0, 3 * g["p"].max()) + 1e-12
    cr = mos.pairwise_tests(df, method="crossed")
    assert (cr["n_raters"] == 18).all() and (cr["n_clips"] == 10).all()
    assert ((cr["ci_low"] < cr["mean_diff"]) & (cr["mean_diff"] < cr["ci_high"])).all()
    # the crossed interval is wider than the rater-only interval (clips are random too)
    ra = mos.pairwise_tests(df, method="rater")
    assert ((cr["ci_high"] - cr["ci_low"]).to_numpy() > (ra["ci_high"] - ra["ci_low"]).to_numpy()).mean() >= 2 / 3
    m = mos.significance_matrix(cr, "sync")
    assert m.loc["SALSA-V", "SALSA-V"] == "—" and m.loc["SALSA-V", "FoleyCrafter"].startswith("+")
    with pytest.raises(ValueError, match="method"):
        mos.pairwise_tests(df, method="pairs")


def test_friedman_blocks_are_raters():
    df = simulate.simulate_ratings(simulate.SimConfig(), seed=0)
    fr = mos.friedman_tests(df)
    assert (fr["n_blocks"] == 18).all() and (fr["k"] == 3).all()
    assert (fr["p"] < 0.05).all() and fr["kendall_w"].between(0, 1).all()
