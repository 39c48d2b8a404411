"""The export -> analysis route: a study with anchors and offset checks, exported to CSV by the
CLI, read by `python -m analysis.report --ratings ratings.csv`."""

from __future__ import annotations

import random
import subprocess
import sys

import pandas as pd

from study import db, service
from study.__main__ import main
from study.manifest import load_manifest
from tests.study.conftest import SYSTEMS, make_wav, write_study
from tests.study.helpers import rate_all


def test_csv_export_feeds_the_analysis_report(tmp_path):
    make_wav(tmp_path / "anchor.wav", 1.0, 3000)
    checks = [{"clip": "clip0", "kind": "offset", "replaces": SYSTEMS[0], "offset": 0.3},
              {"clip": "clip1", "kind": "anchor", "replaces": SYSTEMS[1], "audio": str(tmp_path / "anchor.wav")}]
    manifest = write_study(tmp_path / "stim", n_clips=4, trials=3, duration=1.0, name="route", checks=checks,
                           checks_per=2)
    url = f"sqlite:///{tmp_path / 'r.db'}"
    engine = db.make_engine(url)
    sid = load_manifest(engine, manifest)
    rng = random.Random(0)
    for i in range(6):
        with db.write_session(engine) as s:
            p = service.create_participant(s, sid, external_id=f"P{i}", external_study_id="ST",
                                           external_session_id=f"SE{i}")
            tok, n = p.token, len(p.trials)
        for _ in range(n):
            rate_all(engine, tok, rng)
    out = tmp_path / "ratings.csv"
    assert main(["export", "--db", url, "--out", str(out), "--listening", str(tmp_path / "listening.csv")]) == 0
    df = pd.read_csv(out)
    assert set(df["check_kind"].dropna()) == {"offset", "anchor"} and set(df["system"]) == set(SYSTEMS)
    assert set(df["external_session_id"]) == {f"SE{i}" for i in range(6)} and set(df["external_study_id"]) == {"ST"}
    assert len(pd.read_csv(tmp_path / "listening.csv")) > 0
    r = subprocess.run([sys.executable, "-m", "analysis.report", "--ratings", str(out), "--out", str(tmp_path / "mos")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    table = pd.read_csv(tmp_path / "mos" / "mos_table.csv")
    assert set(SYSTEMS) <= set(table.astype(str).stack())
