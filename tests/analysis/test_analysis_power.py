"""Sample-size planning: calibrated under the null, agrees with the noncentral t, CLI."""
import pytest

from analysis import power, simulate

COMP = power.Components(**power.DEFAULTS)


def test_null_rejection_rate_is_alpha_and_power_matches_the_approximation():
    p0 = power.simulate_power(COMP, 0.0, 18, 10, n_sims=6000, seed=1)
    assert 0.038 <= p0 <= 0.062                                    # MC sd 0.003
    for r, c in ((18, 10), (40, 30)):
        sim = power.simulate_power(COMP, 0.2, r, c, n_sims=4000, seed=2)
        assert sim == pytest.approx(power.approx_power(COMP, 0.2, r, c), abs=0.04)
    assert power.simulate_power(COMP, 0.2, 40, 30, n_sims=2000) > power.simulate_power(COMP, 0.2, 18, 10, n_sims=2000)


def test_raters_needed_and_too_few_clips():
    r20, p20 = power.raters_needed(COMP, 0.3, 20, 0.8, n_sims=1500)
    r40, _ = power.raters_needed(COMP, 0.3, 40, 0.8, n_sims=1500)
    assert r20 is not None and p20 >= 0.8 and r40 < r20
    assert power.simulate_power(COMP, 0.3, r20 - 1, 20, n_sims=1500) < 0.8
    # clip x system variance: with 4 clips no number of raters reaches 0.8
    big = power.Components(0.03, 0.3, 0.8)
    r, p = power.raters_needed(big, 0.3, 4, 0.8, max_raters=300, n_sims=800)
    assert r is None and p < 0.8
    with pytest.raises(ValueError):
        power.Components(-1, 0, 1)


def test_cli_assumed_and_pilot(tmp_path, capsys):
    assert power.main(["--diff", "0.4", "--clips", "10,20", "--sims", "400"]) == 0
    out = capsys.readouterr().out
    assert "assumed (defaults)" in out and "raters" in out and "power_sim" in out
    pilot = tmp_path / "pilot.csv"
    cfg = simulate.SimConfig(n_participants=8, n_clips=6, n_trials=6, **simulate.HETEROGENEOUS)
    simulate.simulate_ratings(cfg, seed=0).to_csv(pilot, index=False)
    assert power.main(["--diff", "0.5", "--pilot", str(pilot), "--axis", "sync", "--clips", "20",
                       "--sims", "300"]) == 0
    assert f"pilot {pilot} (sync)" in capsys.readouterr().out
    assert power.main(["--diff", "0.2", "--power", "1.5"]) == 2
    assert power.main(["--diff", "0.2", "--pilot", str(tmp_path / "none.csv")]) == 2
    assert "error:" in capsys.readouterr().err
