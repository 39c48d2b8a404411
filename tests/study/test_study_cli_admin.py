"""CLI (create / export / build) and the admin pages."""

from __future__ import annotations

import io
import random

import numpy as np
import pandas as pd
import pytest
import yaml
from fastapi.testclient import TestClient

from study import db, export, service, web
from study.__main__ import main
from study.settings import StudySettings
from study.admin import csrf_token
from tests.study.conftest import SYSTEMS, write_study
from tests.study.helpers import rate_all


def _simulate(engine, sid, n, seed=0):
    rng = random.Random(seed)
    for i in range(n):
        with db.write_session(engine) as s:
            p = service.create_participant(s, sid, external_id=f"sim{i}")
            tok, n_trials = p.token, len(p.trials)
        for _ in range(n_trials):
            rate_all(engine, tok, rng)


def test_cli_create_and_export(stimuli_dir, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    m = yaml.safe_load(write_study(stimuli_dir, n_clips=6, trials=2, name="cli").read_text())
    good = tmp_path / "good.yaml"
    for c in m["clips"]:
        c["video"] = str(stimuli_dir / c["video"])
        c["tracks"] = {k: str(stimuli_dir / v) for k, v in c["tracks"].items()}
    good.write_text(yaml.safe_dump(m))
    m["clips"][2]["video"] = str(tmp_path / "gone.mp4")
    bad.write_text(yaml.safe_dump(m))
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    assert main(["create", str(bad), "--db", url]) == 2
    assert "missing file" in capsys.readouterr().err
    assert main(["create", str(good), "--db", url]) == 0
    assert main(["create", str(good), "--db", url]) == 2  # same name twice is refused
    engine = db.make_engine(url)
    _simulate(engine, 1, 5)
    assert main(["export", "--db", url, "--out", str(tmp_path / "r.csv")]) == 0
    assert main(["export", "--db", url, "--out", str(tmp_path / "r.parquet"), "--study", "cli"]) == 0
    a = pd.read_csv(tmp_path / "r.csv")
    b = pd.read_parquet(tmp_path / "r.parquet")
    assert len(a) == len(b) == 5 * 2 * 9
    assert (a["score"].to_numpy() == b["score"].to_numpy()).all() and b["score"].dtype == np.int64
    assert set(a["system"]) == set(SYSTEMS) and set(a["axis"]) == {"overall", "sync", "quality"}


def test_admin_progress_mos_export_exclude(stimuli_dir, tmp_path):
    from study.manifest import load_manifest
    engine = db.make_engine(f"sqlite:///{tmp_path / 'adm.db'}")
    sid = load_manifest(engine, write_study(stimuli_dir, n_clips=6, trials=2, name="adm"))
    _simulate(engine, sid, 4)
    with db.write_session(engine) as s:
        service.create_participant(s, sid)  # started, not finished
    app = web.create_app(StudySettings(db_url="unused", admin_password="s3cret"), engine=engine)
    client = TestClient(app)
    assert client.get("/admin").status_code == 401
    assert client.get("/admin", auth=("admin", "wrong")).status_code == 401
    auth = ("admin", "s3cret")
    page = client.get(f"/admin/study/{sid}", auth=auth).text
    assert 'id="n-started">5<' in page and 'id="n-finished">4<' in page
    assert all(s in page for s in SYSTEMS)  # MOS per system (admin only)
    with db.read_session(engine) as s:
        mos = export.mos_table(service.export_ratings(s, sid))
    # 3 systems x 3 axes; each system is rated once per trial: 4 participants x 2 trials
    assert len(mos) == 9 and (mos["n"] == 8).all() and mos["mos"].between(1, 5).all()
    assert (mos["ci95"] > 0).all()
    csv = pd.read_csv(io.StringIO(client.get(f"/admin/study/{sid}/ratings.csv", auth=auth).text))
    assert len(csv) == 4 * 2 * 9 and not csv["excluded"].any()
    pq = pd.read_parquet(io.BytesIO(client.get(f"/admin/study/{sid}/ratings.parquet", auth=auth).content))
    assert len(pq) == len(csv)
    pid = int(csv["participant_id"].iloc[0])
    form = {"excluded": "1", "reason": "failed check"}
    # a POST without the form token, or from a foreign Origin, is refused and changes nothing
    r = client.post(f"/admin/participant/{pid}/exclude", data=form, auth=auth, follow_redirects=False)
    assert r.status_code == 403 and "form token" in r.text
    r = client.post(f"/admin/participant/{pid}/exclude", data={**form, "csrf": csrf_token("s3cret")}, auth=auth,
                    headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403 and "cross-site" in r.text
    csv = pd.read_csv(io.StringIO(client.get(f"/admin/study/{sid}/ratings.csv", auth=auth).text))
    assert not csv["excluded"].any()
    assert csrf_token("s3cret") in page and csrf_token("other") not in page
    r = client.post(f"/admin/participant/{pid}/exclude", data={**form, "csrf": csrf_token("s3cret")}, auth=auth,
                    headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303
    csv = pd.read_csv(io.StringIO(client.get(f"/admin/study/{sid}/ratings.csv", auth=auth).text))
    assert set(csv.loc[csv["excluded"], "participant_id"]) == {pid}
    # excluded participants leave the MOS preview
    with db.read_session(engine) as s:
        mos = export.mos_table(service.export_ratings(s, sid))
    assert mos["n"].sum() == 3 * 2 * 9 and (mos["n"] == 6).all()
    # the admin is refused when no password is configured
    bare = TestClient(web.create_app(StudySettings(db_url="unused"), engine=engine))
    if not StudySettings().resolved_admin_password():
        assert bare.get("/admin", auth=auth).status_code == 503


def test_build_writes_tracks_and_a_loadable_manifest(stimuli_dir, tmp_path):
    from study.build import build
    from study.manifest import load_manifest
    from study.media import probe
    cfg = {"name": "variants", "out": "built", "seed": 5,
           "videos": [str(stimuli_dir / "clip0_originalvideo.mp4"), str(stimuli_dir / "clip1_originalvideo.mp4")],
           "variants": [{"name": "salsav-8", "steps": 8}, {"name": "salsav-32", "steps": 32}],
           "external": {"reference": str(stimuli_dir / "ref_{clip}.wav")}}  # {clip} = video stem
    import shutil
    for i in range(2):
        shutil.copy(stimuli_dir / f"{SYSTEMS[0]}_clip{i}_trackfile.wav", stimuli_dir / f"ref_clip{i}_originalvideo.wav")
    (tmp_path / "build.yaml").write_text(yaml.safe_dump(cfg))
    calls = []

    def fake_generate(video, steps, guidance, seed):  # stands in for the model: a tone per step count
        calls.append((steps, seed))
        sr = 16000
        t = np.arange(int(probe(video)["duration"] * sr)) / sr
        return 0.1 * np.sin(2 * np.pi * 100 * steps * t), sr

    path = build(tmp_path / "build.yaml", generate=fake_generate)
    assert sorted(calls) == [(8, 5), (8, 6), (32, 5), (32, 6)]
    engine = db.make_engine("sqlite://")
    sid = load_manifest(engine, path)
    with db.read_session(engine) as s:
        assert {x.name for x in s.get(db.Study, sid).systems} == {"salsav-8", "salsav-32", "reference"}
    with pytest.raises(FileNotFoundError):
        build(tmp_path / "missing.yaml", generate=fake_generate)
    # every system external: no checkpoint, no model, nothing generated
    ext = {"name": "external-only", "out": "ext", "videos": cfg["videos"],
           "external": {"reference": cfg["external"]["reference"], "other": str(stimuli_dir / "ref_{clip}.wav")}}
    (tmp_path / "ext.yaml").write_text(yaml.safe_dump(ext))
    path = build(tmp_path / "ext.yaml")
    sid = load_manifest(engine, path)
    with db.read_session(engine) as s:
        assert {x.name for x in s.get(db.Study, sid).systems} == {"reference", "other"}
