"""The mixed-effects model: known components recovered, balanced means, intervals, disagreement."""
import numpy as np
import pandas as pd
import pytest

from analysis import mixed, mos, simulate


def _gaussian_study(rng, r=30, c=20, comp=(0.4, 0.2, 0.12, 0.05), resid=0.5, means=(3.0, 3.5)):
    """Continuous scores with known variance components (rater, clip, rater x system, clip x system)."""
    rs = rng.normal(0, np.sqrt(comp[0]), r)
    cs = rng.normal(0, np.sqrt(comp[1]), c)
    rxs = rng.normal(0, np.sqrt(comp[2]), (r, len(means)))
    cxs = rng.normal(0, np.sqrt(comp[3]), (c, len(means)))
    rows = [(f"p{i}", f"c{j}", f"S{k}", "overall",
             m + rs[i] + cs[j] + rxs[i, k] + cxs[j, k] + rng.normal(0, np.sqrt(resid)))
            for i in range(r) for j in range(c) for k, m in enumerate(means)]
    drawn = {"rater": rs.var(ddof=1), "clip": cs.var(ddof=1), "rater_system": rxs.var(ddof=1),
             "clip_system": cxs.var(ddof=1)}           # the realised variance of each term
    return pd.DataFrame(rows, columns=["participant_id", "clip", "system", "axis", "score"]), drawn


@pytest.mark.slow
def test_recovers_known_components_and_means():
    d, drawn = _gaussian_study(np.random.default_rng(0))
    d["excluded"] = d["attention_check"] = False
    fit = mixed.fit_axis(d, ["S0", "S1"])
    assert fit.converged
    est = fit.components
    # REML finds the variance the drawn effects really have (20 clips give a noisy draw of
    # the nominal 0.2, so compare with the realised one), up to the residual noise
    # the main effects also carry their levels' share of the noise; the interactions are tight
    for k, tol in zip(mixed.TERMS, (0.08, 0.08, 0.025, 0.025)):
        assert est[k] == pytest.approx(drawn[k], abs=tol), (k, est[k], drawn[k])
    assert est["residual"] == pytest.approx(0.5, abs=0.08)
    # complete balanced design: the GLS means are the cell means
    raw = d.groupby("system")["score"].mean()
    assert fit.means.set_index("system")["mean"].to_numpy() == pytest.approx(raw.to_numpy(), abs=1e-6)
    c = fit.contrasts.iloc[0]
    assert c["diff"] == pytest.approx(raw["S0"] - raw["S1"], abs=1e-6)
    assert c["ci_low"] < c["diff"] < c["ci_high"] and c["p"] < 0.05


def test_paper_design_fit_side_by_side_and_contrasts():
    df = simulate.simulate_ratings(simulate.PRESETS["paper-crossed"], seed=1)
    one = df[df["axis"] == "sync"]
    one.attrs = dict(df.attrs, axes=["sync"])
    fits = mixed.mixed_model(one)
    assert list(fits) == ["sync"]
    f = fits["sync"]
    assert set(mixed.random_terms(one)) == set(mixed.TERMS)
    assert all(v >= 0 for v in f.components.values()) and f.components["residual"] > 0.3
    means = mixed.means_table(fits)
    assert ((means["ci_low"] < means["mean"]) & (means["mean"] < means["ci_high"])).all()
    assert (means["df"] > 2).all() and (means["df"] < 18 * 10).all()
    tests = mixed.contrast_tests(fits)
    assert len(tests) == 3 and (tests["method"] == "mixed").all() and (tests["p_holm"] >= tests["p"]).all()
    boot = mos.mos_table(one, ci="bootstrap")
    both = mixed.side_by_side(boot, means)
    assert len(both) == 3 and set(both.columns) >= {"boot_mean", "mixed_mean", "width_ratio", "disagree"}
    # balanced: the same point estimate; the model's interval also counts clip variance
    assert np.allclose(both["boot_mean"], both["mixed_mean"], atol=1e-6)
    assert (both["width_ratio"] > 1).all()
    assert all(flag in ("", "width") for flag in both["disagree"])


def test_random_terms_follow_the_design():
    rows = [(f"p{i}", f"c{i}", s, "overall", 3) for i in range(5) for s in "AB"]   # one clip each
    d = pd.DataFrame(rows, columns=["participant_id", "clip", "system", "axis", "score"])
    assert mixed.random_terms(d) == ["rater", "clip"]         # no rater/clip heard a system twice
    with pytest.raises(mos.TooFewRatersError):
        mixed.fit_axis(d[d.participant_id == "p0"], ["A", "B"])


def test_side_by_side_names_a_mean_disagreement():
    boot = pd.DataFrame({"system": ["A"], "axis": ["overall"], "mean": [3.0], "ci_low": [2.8], "ci_high": [3.2]})
    mix = pd.DataFrame({"system": ["A"], "axis": ["overall"], "mean": [3.2], "ci_low": [3.0], "ci_high": [3.4]})
    assert mixed.side_by_side(boot, mix)["disagree"].tolist() == ["mean"]
    mix2 = mix.assign(mean=3.0, ci_low=2.5, ci_high=3.5)
    r = mixed.side_by_side(boot, mix2)
    assert r["disagree"].tolist() == ["width"] and r["width_ratio"].iloc[0] == pytest.approx(2.5)
