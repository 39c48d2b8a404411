"""The admin page's live MOS preview uses the report's rater-clustered interval."""
import numpy as np
import pandas as pd
import pytest

from analysis import mos, simulate
from analysis.preview import COLUMNS, mos_preview


def test_preview_equals_the_reports_clustered_interval():
    df = simulate.simulate_ratings(simulate.SimConfig(n_random_raters=1), seed=2)
    df.loc[df.participant_id == "p03", "excluded"] = True             # marked in the study
    df.loc[df.index[:9], "attention_check"] = True
    pv = mos_preview(df).set_index(["system", "axis"])
    tab = mos.mos_table(df).set_index(["system", "axis"])              # drops the same rows
    assert list(mos_preview(df).columns) == COLUMNS
    assert np.allclose(pv["mos"], tab.loc[pv.index, "mean"])
    assert np.allclose(pv["ci95"], ((tab["ci_high"] - tab["ci_low"]) / 2).loc[pv.index])
    assert (pv["n_raters"] == 18).all()
    naive = mos.mos_table(df, cluster=None).set_index(["system", "axis"])
    assert (pv["ci95"] > (naive["ci_high"] - naive["ci_low"]).loc[pv.index] / 2).all()


def test_preview_never_raises_mid_study():
    assert mos_preview(pd.DataFrame(columns=["participant_id", "clip", "system", "axis", "score"])).empty
    one = pd.DataFrame({"participant_id": ["1", "1"], "clip": ["c", "c"], "system": ["A", "B"],
                        "axis": ["overall"] * 2, "score": [3, 4], "excluded": [False] * 2,
                        "attention_check": [False] * 2})
    pv = mos_preview(one)
    assert pv["n"].tolist() == [1, 1] and pv["ci95"].isna().all() and pv["mos"].tolist() == [3.0, 4.0]


def test_admin_page_shows_the_clustered_interval(tmp_path):
    from fastapi.testclient import TestClient

    from study import db, service, web
    from study.settings import StudySettings

    url = f"sqlite:///{tmp_path}/s.db"
    cfg = simulate.SimConfig(n_participants=6, n_trials=4, n_clips=8)
    sid = simulate.store_simulated_study(url, tmp_path, cfg, seed=1, attention=False)
    engine = db.make_engine(url, create=False)
    with db.read_session(engine) as s:
        pv = mos_preview(service.export_ratings(s, sid))
    client = TestClient(web.create_app(StudySettings(db_url=url, admin_password="pw"), engine=engine))
    page = client.get(f"/admin/study/{sid}", auth=("admin", "pw")).text
    engine.dispose()
    assert "n_raters" in page
    for h in pv["ci95"]:
        assert f"<td>{h:.2f}</td>" in page
