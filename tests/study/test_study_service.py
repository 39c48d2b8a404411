"""Service-level tests: design balance, randomization, resume, upsert, ownership."""

from __future__ import annotations

import collections
import random

import pytest
from sqlalchemy import func, select

from study import db, service
from study.manifest import ManifestError, load_manifest
from tests.study.conftest import SYSTEMS, write_study
from tests.study.helpers import listen_through, rate_all


def full_ratings(trial, axes=("overall", "sync", "quality"), rng=None):
    rng = rng or random.Random(0)
    return {it.label: {a: rng.randint(1, 5) for a in axes} for it in trial.items}


@pytest.fixture
def engine_study(stimuli_dir, tmp_path, db_url):  # on SQLite and on PostgreSQL (conftest.db_url)
    url = db_url
    manifest = write_study(stimuli_dir, n_clips=6, trials=4, name="svc")
    engine = db.make_engine(url)
    sid = load_manifest(engine, manifest, derived_dir=tmp_path / "derived")
    return url, engine, sid


def test_balanced_assignment_and_label_shuffles(engine_study):
    _, engine, sid = engine_study
    mappings = collections.Counter()
    shown = collections.Counter()
    orders = set()
    for i in range(18):
        with db.write_session(engine) as s:
            p = service.create_participant(s, sid, external_id=f"P{i}")
            assert p.seed is not None
            trials = p.trials
            assert [t.order for t in trials] == [0, 1, 2, 3]
            orders.add(tuple(t.clip_id for t in trials))
            for t in trials:
                shown[t.clip_id] += 1
                sysmap = tuple(it.track.system.name for it in t.items)  # label order A, B, C
                assert sorted(sysmap) == sorted(SYSTEMS)
                mappings[sysmap] += 1
    # 18 participants x 4 trials over 6 clips = 12 shows each, exactly balanced
    assert sorted(shown.values()) == [12] * 6
    # label -> system mapping is shuffled per trial: all 6 permutations occur, none dominates
    assert len(mappings) == 6 and max(mappings.values()) < 30
    assert len(orders) > 10  # trial order differs between participants


def test_seed_replays_the_plan(engine_study):
    _, engine, sid = engine_study
    from study import design
    with db.read_session(engine) as s:
        counts = service._clip_counts(s, service.get_study(s, sid))
    tracks = {1: {1: 10, 2: 11, 3: 12}, 2: {1: 20, 2: 21, 3: 22}, 3: {1: 30, 2: 31, 3: 32}}
    a = design.plan_trials(1234, {1: 0, 2: 0, 3: 0}, 2, tracks)
    b = design.plan_trials(1234, {1: 0, 2: 0, 3: 0}, 2, tracks)
    assert a == b and len(a) == 2 and all(set(p.mapping) == {"A", "B", "C"} for p in a)
    assert counts and all(v == 0 for v in counts.values())


def test_resume_double_submit_ownership_order_immutability(engine_study):
    url, engine, sid = engine_study
    with db.write_session(engine) as s:
        p1 = service.create_participant(s, sid)
        p2 = service.create_participant(s, sid)
        tok1, tok2 = p1.token, p2.token
        later_id = p1.trials[1].id
    listen_through(engine, tok1)
    with db.write_session(engine) as s:
        t = service.next_trial(s, tok1)
        first_id, ratings = t.id, full_ratings(t)
        # a trial cannot be skipped: the second one is refused while the first is open
        with pytest.raises(service.TrialClosed, match="in order"):
            service.submit_ratings(s, tok1, later_id, ratings, complete=False)
    # partial saves upsert (e.g. a network retry with one changed score) -> one row per score
    with db.write_session(engine) as s:
        service.submit_ratings(s, tok1, first_id, {"A": {"overall": 2}}, complete=False)
    with db.write_session(engine) as s:
        service.submit_ratings(s, tok1, first_id, {"A": {"overall": 4}}, complete=False)
    with db.read_session(engine) as s:
        rows = s.scalars(select(db.Rating).where(db.Rating.trial_id == first_id)).all()
        assert [(r.label, r.axis, r.score) for r in rows] == [("A", "overall", 4)]
    with db.write_session(engine) as s:
        service.submit_ratings(s, tok1, first_id, ratings)
    # once completed, the trial's scores are immutable: a re-submission is refused, nothing changes
    changed = {k: dict(v) for k, v in ratings.items()}
    changed["A"]["overall"] = 6 - changed["A"]["overall"]
    for complete in (True, False):
        with pytest.raises(service.TrialClosed, match="already completed"):
            with db.write_session(engine) as s:
                service.submit_ratings(s, tok1, first_id, changed, complete=complete)
    with db.read_session(engine) as s:
        got = {(r.label, r.axis): r.score for r in s.scalars(select(db.Rating).where(db.Rating.trial_id == first_id))}
    assert got == {(lab, ax): v for lab, by in ratings.items() for ax, v in by.items()}
    # participant 2 cannot rate participant 1's trial, whatever the client sends
    with pytest.raises(service.TrialNotFound):
        with db.write_session(engine) as s:
            service.submit_ratings(s, tok2, first_id, ratings)
    # invalid scores, labels, axes, incomplete submissions
    listen_through(engine, tok1)
    with db.write_session(engine) as s:
        t = service.next_trial(s, tok1)
        second_id = t.id
        assert second_id == later_id
    for bad in ({"A": {"overall": 6}}, {"Z": {"overall": 3}}, {"A": {"loudness": 3}},
                {"A": {"overall": "3"}}, {"A": {"overall": True}}, {"A": {"overall": 3}}):
        with pytest.raises(service.InvalidRatings):
            with db.write_session(engine) as s:
                service.submit_ratings(s, tok1, second_id, bad)
    # partial save (complete=False) survives; re-create the engine on the same file: resume
    with db.write_session(engine) as s:
        service.submit_ratings(s, tok1, second_id, {"B": {"sync": 2}}, complete=False)
    engine.dispose()
    engine2 = db.make_engine(url)
    with db.read_session(engine2) as s:
        t = service.next_trial(s, tok1)
        assert t.id == second_id
        view = service.trial_view(s, t)
        assert view["ratings"] == {"B": {"sync": 2}} and view["index"] == 1
        assert view["trial_id"] == t.public_id and len(t.public_id) == 24  # random, not the row id
    # finish all trials -> completion code
    while True:
        with db.read_session(engine2) as s:
            if service.next_trial(s, tok1) is None:
                break
        rate_all(engine2, tok1, random.Random(1))
    with db.read_session(engine2) as s:
        p = service.get_participant(s, tok1)
        assert p.completed_at is not None and p.completion_code
        df = service.export_ratings(s, sid)
    assert len(df) == 4 * 9 and set(df["axis"]) == {"overall", "sync", "quality"}
    assert list(df.columns[:12]) == service.EXPORT_COLUMNS[:12]
    assert not df.duplicated(["trial_id", "label", "axis"]).any()
    assert set(df["system"]) == set(SYSTEMS)
    assert (df["listen_s"] >= 2.0).all() and (df["plays"] >= 1).all() and df["trial_time_s"].notna().all()


def test_schema_version_mismatch(tmp_path):
    url = f"sqlite:///{tmp_path / 'v.db'}"
    engine = db.make_engine(url)
    with db.write_session(engine) as s:
        s.get(db.SchemaInfo, 1).version = 999
    engine.dispose()
    with pytest.raises(db.SchemaMismatchError, match="schema version"):
        db.make_engine(url)


def test_manifest_validation(stimuli_dir, tmp_path):
    import yaml
    root = tmp_path / "m"
    path = write_study(root, n_clips=2, trials=2, duration=1.0, name="bad")
    m = yaml.safe_load(path.read_text())
    del m["clips"][0]["tracks"][SYSTEMS[1]]                       # a clip without a track
    m["clips"][1]["tracks"][SYSTEMS[0]] = "does_not_exist.wav"     # a missing file
    path.write_text(yaml.safe_dump(m))
    engine = db.make_engine("sqlite://")
    with pytest.raises(ManifestError, match="no track for system"):
        load_manifest(engine, path)
    m["clips"][0]["tracks"][SYSTEMS[1]] = f"{SYSTEMS[1]}_clip0_trackfile.wav"
    path.write_text(yaml.safe_dump(m))
    with pytest.raises(ManifestError, match="missing file"):
        load_manifest(engine, path)
    # a track whose duration does not match the video: trimmed with a warning, or refused on request
    from tests.study.conftest import make_wav
    make_wav(root / "long.wav", 1.5, 300)
    m["clips"][1]["tracks"][SYSTEMS[0]] = "long.wav"
    m["media"] = {"on_duration_mismatch": "error"}
    path.write_text(yaml.safe_dump(m))
    with pytest.raises(ManifestError, match="lasts 1.500 s but the video 1.000 s"):
        load_manifest(engine, path)
    del m["media"]
    path.write_text(yaml.safe_dump(m))
    warnings = []
    sid = load_manifest(engine, path, derived_dir=tmp_path / "d", warnings=warnings)
    assert len(warnings) == 1 and "clip 'clip1'" in warnings[0] and "trimmed" in warnings[0]
    with db.read_session(engine) as s:
        tr = s.scalars(select(db.Track).join(db.System).where(db.System.name == SYSTEMS[0],
                                                               db.System.study_id == sid)
                       .join(db.Clip, db.Track.clip_id == db.Clip.id).where(db.Clip.name == "clip1")).one()
        assert tr.media_info["trimmed_s"] == pytest.approx(0.5, abs=0.01)
        import soundfile
        assert soundfile.info(tr.audio_path).duration == pytest.approx(1.0, abs=1e-3)
    # bad media options are listed like any other problem
    m["media"] = {"sample_rate": 12345, "channels": 3}
    m["min_listen_s"] = -1
    path.write_text(yaml.safe_dump(m))
    with pytest.raises(ManifestError) as err:
        load_manifest(engine, path)
    assert "sample_rate 12345" in str(err.value) and "min_listen_s" in str(err.value)


def test_attention_checks_flagged(stimuli_dir, tmp_path):
    from tests.study.conftest import make_wav
    make_wav(tmp_path / "anchor_noise.wav", 2.0, 3000)
    checks = [{"clip": "clip0", "kind": "offset", "replaces": SYSTEMS[0], "offset": 0.5},
              {"clip": "clip1", "kind": "anchor", "replaces": SYSTEMS[2], "audio": str(tmp_path / "anchor_noise.wav")}]
    manifest = write_study(stimuli_dir, n_clips=6, trials=2, name="att", checks=checks, checks_per=2)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    sid = load_manifest(engine, manifest, derived_dir=tmp_path / "derived")
    import numpy as np
    import soundfile
    with db.read_session(engine) as s:
        tracks = s.scalars(select(db.Track).join(db.Clip).where(db.Clip.study_id == sid, db.Clip.name == "clip0")).all()
        off_path = next(t.audio_path for t in tracks if t.check_kind == "offset")
        src_path = next(t.audio_path for t in tracks if t.check_kind is None and t.system.name == SYSTEMS[0])
    src, sr = soundfile.read(src_path)
    off, sr2 = soundfile.read(off_path)
    shift = sr // 2
    assert sr == sr2 and len(off) == len(src) and abs(off[:shift]).max() == 0
    # the normalised source, delayed 0.5 s and brought to the same loudness again
    g = float(np.dot(off[shift:], src[:-shift]) / np.dot(src[:-shift], src[:-shift]))
    assert 0.5 < g < 2 and np.abs(off[shift:] - g * src[:-shift]).max() < 1e-3
    with db.write_session(engine) as s:
        p = service.create_participant(s, sid)
        tok = p.token
        assert len(p.trials) == 4 and sum(t.is_attention for t in p.trials) == 2
        assert not p.trials[0].is_attention
    rng = random.Random(0)
    for _ in range(4):
        rate_all(engine, tok, rng)
    with db.read_session(engine) as s:
        df = service.export_ratings(s, sid)
    chk = df[df["attention_check"]]
    assert len(chk) == 6 and set(chk["check_kind"]) == {"offset", "anchor"}
    # a check row names the system whose track it replaced (offset: that track shifted)
    assert set(chk.loc[chk["check_kind"] == "anchor", "system"]) == {SYSTEMS[2]}
    assert set(chk.loc[chk["check_kind"] == "offset", "system"]) == {SYSTEMS[0]}
    assert df["attention_trial"].sum() == 18
