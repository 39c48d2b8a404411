"""Krippendorff's alpha on the textbook example, Holm, rank-biserial, clustered CIs."""
import numpy as np
import pytest
from scipy import stats

from analysis.agreement import krippendorff_alpha
from analysis.stats import cluster_bootstrap_ci, cluster_t_ci, holm, rank_biserial

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 coders x 12 units,
# missing values as None. Published: nominal .743, ordinal .815, interval .849.
K2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _triples(data):
    return zip(*[(u, v) for row in data for u, v in enumerate(row) if v is not None])


@pytest.mark.parametrize("metric,expected", [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849)])
def test_krippendorff_textbook(metric, expected):
    units, values = _triples(K2011)
    res = krippendorff_alpha(units, values, domain=[1, 2, 3, 4, 5], metric=metric)
    assert round(res["alpha"], 3) == expected
    assert res["n_units"] == 11 and res["n_pairable"] == 40     # unit 12 has one value only


def test_krippendorff_perfect_and_undefined():
    units = [0, 0, 1, 1, 2, 2]
    assert krippendorff_alpha(units, [1, 1, 3, 3, 5, 5])["alpha"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="two or more raters"):
        krippendorff_alpha([0, 1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="identical"):
        krippendorff_alpha(units, [3] * 6)


def test_holm_matches_definition():
    p = np.array([0.01, 0.04, 0.03, 0.5])
    assert np.allclose(holm(p), [0.04, 0.09, 0.09, 0.5])


def test_rank_biserial():
    assert rank_biserial([1, 2, 3]) == 1.0
    assert rank_biserial([-1, -2]) == -1.0
    assert rank_biserial([0, 0]) == 0.0
    # ranks of |d| = 1, 2, 3 -> T+ = 2 + 3, T- = 1
    assert rank_biserial([-1, 2, 3]) == pytest.approx((5 - 1) / 6)


def test_cluster_t_ci_reduces_to_textbook_without_clusters():
    y = np.random.default_rng(0).normal(size=50)
    m, lo, hi, g = cluster_t_ci(y, None)
    half = stats.t.ppf(0.975, 49) * y.std(ddof=1) / np.sqrt(50)
    assert g == 50 and m == pytest.approx(y.mean()) and hi - m == pytest.approx(half)


def test_cluster_ci_widens_with_rater_bias_and_bootstrap_is_seeded():
    rng = np.random.default_rng(1)
    raters = np.repeat(np.arange(10), 20)
    y = rng.normal(size=10)[raters] + 0.3 * rng.normal(size=200)
    _, lo_i, hi_i, _ = cluster_t_ci(y, None)
    _, lo_c, hi_c, g = cluster_t_ci(y, raters)
    assert g == 10 and hi_c - lo_c > 2 * (hi_i - lo_i)
    a = cluster_bootstrap_ci(y, raters, seed=3)
    assert a == cluster_bootstrap_ci(y, raters, seed=3)
    assert a[1] < a[0] < a[2]
    with pytest.raises(ValueError, match="at least 2"):
        cluster_t_ci(y[:5], np.zeros(5))
