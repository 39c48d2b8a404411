"""The MOS library on simulated studies: loading, tables, tests, screening, edge cases."""
import numpy as np
import pandas as pd
import pytest

from analysis import mos, simulate
from analysis.errors import (AllExcludedError, EmptyRatingsError, MissingColumnsError,
                             MissingSystemError, TooFewRatersError, ZeroVarianceError)


@pytest.fixture(scope="module")
def df():
    return simulate.simulate_ratings(simulate.SimConfig(), seed=0)


def test_calibration_gives_the_table_means():
    cfg = simulate.SimConfig()
    for (s, a), mu in simulate.latent_means(cfg).items():
        assert simulate.expected_score(mu, cfg.total_sd) == pytest.approx(cfg.target(s, a), abs=1e-9)
        # the sampler really draws with that mean (Monte Carlo, 200k draws: sd of mean ~0.002)
        x = np.random.default_rng(0).normal(mu, cfg.total_sd, 200_000)
        assert np.clip(np.floor(x + 0.5), 1, 5).mean() == pytest.approx(cfg.target(s, a), abs=0.01)


def test_simulated_design_is_the_papers(df):
    assert df["participant_id"].nunique() == 18
    assert set(df.groupby(["system", "axis"]).size()) == {180}
    assert df.groupby("participant_id")["trial_id"].nunique().eq(10).all()
    assert df["score"].between(1, 5).all()


def test_mos_table_values_and_layout(df):
    tab = mos.mos_table(df)
    assert list(tab.columns) == ["system", "axis", "n", "n_raters", "mean", "std", "ci_low", "ci_high"]
    cell = df[(df.system == "SALSA-V") & (df.axis == "sync")]["score"]
    row = tab[(tab.system == "SALSA-V") & (tab.axis == "sync")].iloc[0]
    assert row["mean"] == pytest.approx(cell.mean()) and row["std"] == pytest.approx(cell.std())
    assert row["n"] == 180 and row["ci_low"] < row["mean"] < row["ci_high"]
    wide = mos.format_table(tab)
    assert list(wide.columns) == ["Overall", "Quality", "Sync"]
    assert list(wide.index) == ["FoleyCrafter", "MMAudio", "SALSA-V"]
    half = (row["ci_high"] - row["ci_low"]) / 2
    assert wide.loc["SALSA-V", "Sync"] == f"{row['mean']:.2f} ± {half:.2f}"
    boot = mos.mos_table(df, ci="bootstrap", seed=1)
    assert np.allclose(boot["mean"], tab["mean"])
    assert ((boot["ci_low"] < boot["mean"]) & (boot["mean"] < boot["ci_high"])).all()
    assert boot.equals(mos.mos_table(df, ci="bootstrap", seed=1))


def test_zmos_pairwise_friedman_agreement(df):
    z = mos.zmos_table(df)
    assert z.groupby("axis")["mean"].sum().abs().max() < 1e-9     # balanced: z means cancel
    pw = mos.pairwise_tests(df)                                    # crossed: raters and clips random
    assert len(pw) == 9 and (pw["p_holm"] >= pw["p"]).all() and (pw["method"] == "crossed").all()
    fc_sync = pw[(pw.axis == "sync") & (pw.system_a == "FoleyCrafter") & (pw.system_b == "SALSA-V")].iloc[0]
    assert fc_sync["significant"] and fc_sync["effect"] < -0.5 and fc_sync["n_pairs"] == 180
    assert fc_sync["n_raters"] == 18 and fc_sync["mean_diff"] == pytest.approx(
        df[(df.axis == "sync") & (df.system == "FoleyCrafter")].score.mean()
        - df[(df.axis == "sync") & (df.system == "SALSA-V")].score.mean())
    m = mos.significance_matrix(pw, "sync")
    assert m.loc["SALSA-V", "FoleyCrafter"].startswith("+") and m.loc["SALSA-V", "SALSA-V"] == "—"
    fr = mos.friedman_tests(df)
    assert (fr["p"] < 1e-3).all() and (fr["n_blocks"] == 18).all()
    ag = mos.agreement_table(df)
    assert ag["alpha"].between(0.0, 0.6).all() and (ag["n_raters"] == 18).all()


def test_screening_flags_bad_raters_without_dropping(df):
    bad = simulate.simulate_ratings(simulate.SimConfig(n_random_raters=2, n_flat_raters=1), seed=4)
    sc = mos.screen_raters(bad)
    kinds = bad.groupby("participant_id")["rater_kind"].first()
    flat = kinds[kinds == "flat"].index[0]
    assert sc.set_index("participant_id").loc[flat, "zero_variance"]
    random_ids = set(kinds[kinds == "random"].index)
    assert random_ids <= set(mos.flagged_raters(sc))
    assert len(mos.flagged_raters(sc)) <= 5              # at most 2 of 18 normal raters flagged
    # nothing is dropped unless asked
    assert mos.mos_table(bad)["n_raters"].eq(21).all()
    with pytest.raises(ZeroVarianceError, match=flat):
        mos.zmos_table(bad)
    tab = mos.mos_table(bad, exclude=mos.flagged_raters(sc))
    assert tab.attrs["excluded_participants"] == sorted(mos.flagged_raters(sc))
    assert tab["n_raters"].eq(21 - len(mos.flagged_raters(sc))).all()


def test_load_ratings_csv_parquet_and_missing_columns(df, tmp_path):
    df.to_csv(tmp_path / "r.csv", index=False)
    df.to_parquet(tmp_path / "r.parquet")
    for f in ("r.csv", "r.parquet"):
        got = mos.load_ratings(str(tmp_path / f))
        assert mos.mos_table(got)["mean"].tolist() == pytest.approx(mos.mos_table(df)["mean"].tolist())
    df.drop(columns=["system", "score"]).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(MissingColumnsError, match=r"\['system', 'score'\]"):
        mos.load_ratings(str(tmp_path / "bad.csv"))
    with pytest.raises(FileNotFoundError):
        mos.load_ratings(str(tmp_path / "nope.csv"))


def test_edge_cases_have_clear_errors(df, tmp_path):
    with pytest.raises(EmptyRatingsError):
        mos.load_ratings(df.iloc[:0])
    with pytest.raises(EmptyRatingsError):
        mos.mos_table(mos.load_ratings(df.iloc[:0], allow_empty=True))
    # a system the study defines but nobody rated
    d = df[df.system != "MMAudio"].copy()
    d.attrs = {"systems": ["FoleyCrafter", "MMAudio", "SALSA-V"]}
    with pytest.raises(MissingSystemError, match="MMAudio"):
        mos.mos_table(d)
    with pytest.raises(MissingSystemError, match="SALSA-V/sync"):
        mos.mos_table(df[~((df.system == "SALSA-V") & (df.axis == "sync"))])
    one = df[df.participant_id == "p01"]
    with pytest.raises(TooFewRatersError, match="only one"):
        mos.mos_table(one)
    with pytest.raises(TooFewRatersError):
        mos.agreement_table(one)
    with pytest.raises(TooFewRatersError):
        mos.screen_raters(one)
    with pytest.raises(AllExcludedError):
        mos.mos_table(df, exclude=df["participant_id"].unique())
    marked = df.assign(excluded=True)
    with pytest.raises(AllExcludedError, match="marked"):
        mos.mos_table(marked)
    assert len(mos.mos_table(marked, drop_marked=False)) == 9
    with pytest.raises(mos.RatingsError, match="unknown participant"):
        mos.mos_table(df, exclude=["nobody"])


def test_study_database_through_the_service(sim_db):
    url, cfg = sim_db
    df = mos.load_ratings(url)
    assert df.attrs["systems"] == sorted(cfg.systems)
    n_people = cfg.n_participants + cfg.n_random_raters + cfg.n_flat_raters
    assert df["participant_id"].nunique() == n_people
    # one attention-check track per participant, rated on 3 axes, never in the MOS
    assert df["attention_check"].sum() == 3 * n_people
    tab = mos.mos_table(df)
    assert tab["n_raters"].eq(n_people).all()
    sc = mos.screen_raters(df)
    ext = sc.set_index("external_id")
    assert ext.filter(like="-flat", axis=0)["zero_variance"].all()
    assert ext.filter(like="-random", axis=0)["flagged"].all()
    normal = ext.filter(like="-normal", axis=0)
    assert normal["attention_failures"].sum() <= 2      # attentive raters hear the checks as bad
    # excluded participants marked in the study are dropped (and reported)
    from study import db, service
    eng = db.make_engine(url, create=False)
    with db.write_session(eng) as s:
        service.exclude_participant(s, int(sc.participant_id.iloc[0]), reason="test")
    try:
        again = mos.mos_table(mos.load_ratings(url))
        assert again.attrs["excluded_participants"] == [sc.participant_id.iloc[0]]
        assert again["n_raters"].eq(n_people - 1).all()
    finally:
        with db.write_session(eng) as s:
            service.exclude_participant(s, int(sc.participant_id.iloc[0]), excluded=False)
        eng.dispose()


def test_empty_study_database(tmp_path):
    from study import db
    url = f"sqlite:///{tmp_path}/empty.db"
    db.make_engine(url).dispose()
    with pytest.raises(EmptyRatingsError, match="no study"):
        mos.load_ratings(url)
    with pytest.raises(FileNotFoundError):
        mos.load_ratings(f"sqlite:///{tmp_path}/missing.db")


def test_study_without_ratings(tmp_path):
    from study import db, manifest
    cfg = simulate.SimConfig()
    eng = db.make_engine(f"sqlite:///{tmp_path}/s.db")
    manifest.load_manifest(eng, simulate.write_manifest(tmp_path, cfg, "empty-study"))
    eng.dispose()
    with pytest.raises(EmptyRatingsError, match="holds no ratings"):
        mos.load_ratings(f"sqlite:///{tmp_path}/s.db")


def test_score_distribution_sums_to_one(df):
    dist = mos.score_distribution(df)
    assert np.allclose(dist.groupby(["system", "axis"])["share"].sum(), 1.0)
    assert len(dist) == 3 * 3 * 5
    assert isinstance(dist, pd.DataFrame)
