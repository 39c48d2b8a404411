"""The landing page, joining (consent), the trial state and the final save through Core statements
(study.entry, study.hotpath) do what the ORM code did: the same plan from the same seed and counts (balance, attention checks,
previews, a returning PROLIFIC_PID, the cap), the same state, the same errors and the same rows,
on SQLite and PostgreSQL. The ORM code they replaced is kept here as the reference."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from study import db, design, entry, hotpath, service
from study.manifest import load_manifest
from tests.study.conftest import SYSTEMS, make_wav, write_study
from tests.study.helpers import mark_listened

AXES = ("overall", "sync", "quality")


# --------------------------------------------------------------------------- the ORM reference

def ref_clip_counts(session, study) -> dict[int, int]:
    from sqlalchemy import func
    counts = {cid: 0 for cid in session.scalars(select(db.Clip.id).where(db.Clip.study_id == study.id))}
    rows = session.execute(
        select(db.Trial.clip_id, func.count())
        .join(db.Participant, db.Trial.participant_id == db.Participant.id)
        .where(service._counted(study), db.Trial.is_attention.is_(False))
        .group_by(db.Trial.clip_id))
    for cid, n in rows:
        counts[cid] = n
    return counts


def ref_check_open(session, study) -> None:
    """service.check_open as it was (ORM)."""
    if study.closed_at is not None:
        raise service.StudyClosed("this study is closed; thank you for your interest")
    if study.max_participants is not None and service.counted_participants(session, study) >= study.max_participants:
        raise service.StudyClosed("this study has all the participants it needs; thank you for your interest")


def ref_landing(session, study, cookie_token, external_id):
    """The landing route's lookups as they were (ORM): (sid, token to resume, set the cookie?, config)."""
    row = service.get_study(session, study)
    if cookie_token:
        p = service.find_participant(session, cookie_token)
        if p is not None and p.study_id == row.id:
            return row.id, cookie_token, False, None
    if external_id:
        p = service.find_by_external_id(session, row.id, external_id)
        if p is not None:
            return row.id, p.token, True, None
    ref_check_open(session, row)
    return row.id, None, False, service.public_config(row)


def ref_create(session, study_id, external_id=None, *, seed=None, preview=False):
    """service.create_participant as it was (ORM objects, one flush)."""
    study = service.get_study(session, study_id)
    db.lock_for_update(session, study)
    if external_id and not preview:
        existing = service.find_by_external_id(session, study.id, external_id)
        if existing is not None:
            return existing
    if not preview:
        ref_check_open(session, study)
    cfg = study.config
    seed = design.new_seed() if seed is None else int(seed)
    tracks: dict[int, dict[int, int]] = {}
    for t in session.scalars(select(db.Track).join(db.Clip).where(
            db.Clip.study_id == study.id, db.Track.check_kind.is_(None))):
        tracks.setdefault(t.clip_id, {})[t.system_id] = t.id
    checks = [design.CheckOption(c["clip_id"], c["track_id"], c["replaces_system_id"])
              for c in cfg.get("checks", [])]
    plans = design.plan_trials(seed, ref_clip_counts(session, study), cfg["trials_per_participant"],
                               tracks, checks, cfg.get("checks_per_participant", 0))
    now = db.utcnow()
    p = db.Participant(study_id=study.id, token=design.new_token(), seed=seed,
                       external_id=None if preview else external_id, consent_at=now, is_preview=preview,
                       last_active_at=now)
    session.add(p)
    for order, plan in enumerate(plans):
        trial = db.Trial(participant=p, clip_id=plan.clip_id, order=order, is_attention=plan.is_attention,
                         video_token=design.new_token(), public_id=design.new_token(18))
        session.add(trial)
        for label, track_id in plan.mapping.items():
            session.add(db.TrialItem(trial=trial, label=label, track_id=track_id, media_token=design.new_token()))
    session.flush()
    return p


def ref_state(s, token, pre="/study"):
    """web.StudyApp.state(token, session) as it was (ORM)."""
    p = service.get_participant(s, token)
    study = s.get(db.Study, p.study_id)
    out = {"config": service.public_config(study), "done": p.completed_at is not None,
           "instructions_done": p.instructions_done_at is not None, "preview": p.is_preview}
    if out["done"]:
        out["completion_code"] = p.completion_code
        url = study.config.get("completion_url")
        out["completion_url"] = url.format(code=p.completion_code) if url and not p.is_preview else None
    else:
        t = service.next_trial(s, token)
        service.start_trial(s, t)
        out["trial"] = service.trial_view(s, t, media_prefix=f"{pre}/media/")
    return out


class Orm:
    def __init__(self, engine):
        self.e = engine

    def create(self, sid, ext=None, seed=None, preview=False):
        with db.write_session(self.e) as s:
            return ref_create(s, sid, ext, seed=seed, preview=preview).token

    def state(self, token):
        with db.write_session(self.e) as s:
            return ref_state(s, token)

    def final(self, token, tid, ratings):
        with db.write_session(self.e) as s:
            service.submit_ratings(s, token, tid, ratings, complete=True)
            return ref_state(s, token)


class Core(Orm):
    def create(self, sid, ext=None, seed=None, preview=False):
        with db.write_connection(self.e) as c:
            return entry.create_participant(c, sid, ext, seed=seed, preview=preview)[1]

    def state(self, token):
        with db.write_connection(self.e) as c:
            return hotpath.trial_state(c, token, "/study/media/")

    def final(self, token, tid, ratings):
        with db.write_connection(self.e) as c:
            hotpath.complete_trial(c, token, tid, ratings)
            return hotpath.trial_state(c, token, "/study/media/")


def _outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except service.StudyError as e:
        return (type(e).__name__, str(e))


# --------------------------------------------------------------------------- snapshots by name

def _plans(engine, sid) -> list:
    """Every participant's stored plan, by clip and system names (ids differ between studies)."""
    with db.read_session(engine) as s:
        out = []
        for p in s.scalars(select(db.Participant).where(db.Participant.study_id == sid).order_by(db.Participant.id)):
            trials = [(t.order, t.clip.name, t.is_attention,
                       {it.label: (it.track.system.name if it.track.system else None, it.track.check_kind,
                                   it.listened_s, it.plays, it.fetched_at is None)
                        for it in t.items},
                       t.started_at is not None, t.completed_at is not None,
                       sorted((r.label, r.axis, r.score) for r in t.ratings))
                      for t in p.trials]
            out.append((p.seed, p.external_id, p.is_preview, p.excluded, p.consent_at is not None,
                        p.last_active_at is not None, p.completed_at is not None, p.completion_code, trials))
        return out


def _counts(engine, sid) -> dict:
    with db.read_session(engine) as s:
        names = dict(s.execute(select(db.Clip.id, db.Clip.name)).all())
        new = service._clip_counts(s, service.get_study(s, sid))
        old = ref_clip_counts(s, service.get_study(s, sid))
    assert new == old and list(new) == list(old)
    return {names[k]: v for k, v in new.items()}


def _norm(out):
    """A state with its random tokens replaced by their position."""
    if not isinstance(out, tuple) or out[0] != "ok" or "trial" not in out[1]:
        return out
    st = dict(out[1])
    t = dict(st["trial"])
    t["trial_id"] = "T"
    t["video"] = t["video"].rsplit("/", 1)[0]
    t["tracks"] = [{"label": x["label"], "url": x["url"].rsplit("/", 1)[0]} for x in t["tracks"]]
    st["trial"] = t
    return ("ok", st)


# --------------------------------------------------------------------------- tests

@pytest.mark.slow
def test_core_join_matches_the_orm(db_url, stimuli_dir, tmp_path):
    make_wav(tmp_path / "anchor_noise.wav", 2.0, 3000)
    checks = [{"clip": "clip0", "kind": "offset", "replaces": SYSTEMS[0], "offset": 0.5},
              {"clip": "clip1", "kind": "anchor", "replaces": SYSTEMS[2], "audio": str(tmp_path / "anchor_noise.wav")}]
    engine = db.make_engine(db_url)
    sids = []
    for name in ("join_orm", "join_core"):
        manifest = write_study(stimuli_dir / "join", n_clips=5, trials=3, name=name, checks=checks, checks_per=1,
                               extra={"abandon_after_min": 30})
        sids.append(load_manifest(engine, manifest, derived_dir=tmp_path / name))
    impls = [Orm(engine), Core(engine)]
    for i in range(9):
        toks = [impl.create(sid, f"P{i}" if i % 3 else None, seed=100 + i) for impl, sid in zip(impls, sids)]
        for tok in toks:   # some finish (one of them excluded after), one abandons, one is excluded
            with db.write_session(engine) as s:
                p = service.get_participant(s, tok)
                if i % 4 == 1:
                    assert hotpath.finish(s.connection(), p.id, db.utcnow(), "X")
                    assert not hotpath.finish(s.connection(), p.id, db.utcnow(), "Y")   # once
                elif i % 4 == 2:
                    p.last_active_at = db.utcnow() - dt.timedelta(minutes=31)
                pid = p.id
            if i in (3, 5):
                with db.write_session(engine) as s:
                    service.exclude_participant(s, pid, True, "test")
                    service.exclude_participant(s, pid, True, "again")   # no double count
        assert _counts(engine, sids[0]) == _counts(engine, sids[1])
    with db.read_session(engine) as s:   # P5 (completed, excluded) back in one study only, then out again
        p5 = s.scalars(select(db.Participant).where(db.Participant.study_id == sids[1],
                                                    db.Participant.external_id == "P5")).one()
        assert p5.completed_at is not None and p5.excluded
    with db.write_session(engine) as s:
        service.exclude_participant(s, p5.id, False)
    c0, c1 = _counts(engine, sids[0]), _counts(engine, sids[1])
    assert sum(c1.values()) == sum(c0.values()) + 3
    with db.write_session(engine) as s:
        service.exclude_participant(s, p5.id, True)
    assert _counts(engine, sids[0]) == _counts(engine, sids[1])
    for impl, sid in zip(impls, sids):
        impl.create(sid, seed=5, preview=True)
        impl.create(sid, "P1", seed=6)                    # a returning PROLIFIC_PID: nothing new
    a, b = _plans(engine, sids[0]), _plans(engine, sids[1])
    assert a == b and len(a) == 10 and sum(t[2] for p in a for t in p[8]) == 10   # one check each
    assert _counts(engine, sids[0]) == _counts(engine, sids[1])
    with db.write_session(engine) as s:
        toks = {sid: [p.token for p in s.scalars(select(db.Participant).where(db.Participant.study_id == sid)
                                                  .order_by(db.Participant.id))] for sid in sids}
    for impl, sid in zip(impls, sids):    # the same token again resolves to the same participant
        assert impl.create(sid, "P2", seed=1) == toks[sid][2]
    # the cap and closing: the same errors
    for sid in sids:
        with db.write_session(engine) as s:
            service.set_study_status(s, sid, closed=False, max_participants=2)
    res = [[_outcome(impl.create, sid, "NEW", 3) for impl, sid in zip(impls, sids)]]
    for sid in sids:
        with db.write_session(engine) as s:
            service.set_study_status(s, sid, closed=True, max_participants=None)
    res.append([_outcome(impl.create, sid, "NEW", 3) for impl, sid in zip(impls, sids)])
    res.append([_outcome(impl.create, 10**9, "NEW", 3) for impl in impls])
    assert [r[0] for r in res] == [r[1] for r in res]
    assert [r[0][0] for r in res] == ["StudyClosed", "StudyClosed", "UnknownStudy"]
    with db.write_connection(engine) as c:
        assert hotpath.study_id(c, "join_core") == sids[1] and hotpath.study_id(c, str(sids[0])) == sids[0]
        with pytest.raises(service.UnknownStudy):
            hotpath.study_id(c, "no such study")
    with pytest.raises(service.ConsentRequired):
        with db.write_connection(engine) as c:
            entry.create_participant(c, sids[1], consent=False)
    engine.dispose()


def _script(impl, engine, token, other_tid) -> list:
    first = _outcome(impl.state, token)
    tid = first[1]["trial"]["trial_id"] if first[0] == "ok" else None
    res = [_norm(first), _norm(_outcome(impl.state, token))]           # the same trial again (a reload)
    with db.read_session(engine) as s:
        trials = [t.public_id for t in service.get_participant(s, token).trials]
    full = {lab: {a: 3 for a in AXES} for lab in "ABC"}
    res.append(_outcome(impl.final, token, trials[0], full))            # nothing played
    mark_listened(engine, token)
    res.append(_outcome(impl.final, token, trials[0], {"A": full["A"]}))   # missing ratings
    res.append(_outcome(impl.final, token, trials[0], {"Z": full["A"]}))
    res.append(_outcome(impl.final, token, trials[0], {"A": {"overall": 0}}))
    res.append(_outcome(impl.final, token, trials[1], full))            # out of order
    res.append(_outcome(impl.final, token, other_tid, full))            # someone else's
    res.append(_outcome(impl.final, "no-such-token-xyz", trials[0], full))
    res.append(_outcome(impl.final, "x" * 65, trials[0], full))
    res.append(_outcome(impl.state, "no-such-token-xyz"))
    res.append(_outcome(impl.state, ""))
    res.append(_norm(_outcome(impl.final, token, trials[0], {**full, "B": {"overall": 5, "sync": 1, "quality": 2}})))
    res.append(_outcome(impl.final, token, trials[0], full))            # a double submission
    res.append(_norm(_outcome(impl.state, token)))
    for t in trials[1:]:
        mark_listened(engine, token)
        res.append(_norm(_outcome(impl.final, token, t, full)))
    res.append(_outcome(impl.state, token))                             # done
    res.append(_outcome(impl.final, token, trials[-1], full))
    assert tid == trials[0]
    return res


@pytest.mark.slow
def test_core_state_and_final_save_match_the_orm(db_url, stimuli_dir, tmp_path):
    engine = db.make_engine(db_url)
    manifest = write_study(stimuli_dir / "state", n_clips=4, trials=3, name="state",
                           extra={"min_listen_s": 0.4, "completion_code": "C0DE",
                                  "completion_url": "https://example.org/done?cc={code}"})
    sid = load_manifest(engine, manifest, derived_dir=tmp_path / "d")
    with db.write_session(engine) as s:
        toks = [service.create_participant(s, sid, external_id=f"S{i}", seed=11).token for i in range(3)]
        other = service.get_participant(s, toks[2]).trials[0].public_id
    orm = _script(Orm(engine), engine, toks[0], other)
    core = _script(Core(engine), engine, toks[1], other)
    kinds = [o[0] for o in orm]
    assert {"NotListened", "InvalidRatings", "TrialClosed", "TrialNotFound", "UnknownParticipant"} <= set(kinds)
    assert kinds.count("ok") == 7
    assert core == orm
    assert orm[-2][1]["completion_url"] == "https://example.org/done?cc=C0DE"
    def rows(p):   # what the requests wrote (the clips differ: S1 joined after S0, balance)
        return p[2:8] + ([(o, att, {lab: v[2:] for lab, v in items.items()}, *rest)
                          for o, _clip, att, items, *rest in p[8]],)
    plans = _plans(engine, sid)
    assert rows(plans[0]) == rows(plans[1]) and plans[0][6] and plans[0][7] == "C0DE"
    engine.dispose()


def test_core_landing_matches_the_orm(db_url, stimuli_dir, tmp_path):
    engine = db.make_engine(db_url)
    sids = [load_manifest(engine, write_study(stimuli_dir / "land", n_clips=2, trials=1, name=name),
                          derived_dir=tmp_path / name) for name in ("land_a", "land_b")]
    with db.write_session(engine) as s:
        a = service.create_participant(s, sids[0], external_id="PA", seed=1).token
        b = service.create_participant(s, sids[1], seed=2).token

    def both(study, cookie, ext):
        with db.read_session(engine) as s:
            orm = _outcome(ref_landing, s, study, cookie, ext)
        with engine.connect() as c:
            core = _outcome(entry.landing, c, study, cookie, ext)
        if core[0] == "ok":
            core = ("ok", (core[1].sid, core[1].token, core[1].set_cookie, core[1].config))
        assert core == orm
        return orm
    cases = {"own cookie": ("land_a", a, None), "other study's cookie": ("land_a", b, None),
             "unknown cookie": ("land_a", "x" * 20, None), "overlong cookie": ("land_a", "x" * 65, None),
             "returning id": ("land_a", None, "PA"), "returning id, other study": ("land_b", None, "PA"),
             "by id": (str(sids[1]), None, None), "newest": (None, b, None),
             "unknown study": ("nope", a, None), "huge id": ("9" * 30, None, None)}
    got = {k: both(*v) for k, v in cases.items()}
    assert got["own cookie"][1][1:3] == (a, False) and got["newest"][1][1] == b
    assert got["returning id"][1][1:3] == (a, True)
    for k in ("other study's cookie", "unknown cookie", "overlong cookie", "returning id, other study", "by id"):
        assert got[k][0] == "ok" and got[k][1][1] is None and got[k][1][3]["title"]
    assert got["unknown study"][0] == got["huge id"][0] == "UnknownStudy"
    with db.write_session(engine) as s:
        service.set_study_status(s, sids[0], closed=False, max_participants=1)
    assert both("land_a", None, "NEW")[0] == "StudyClosed"          # full
    assert both("land_a", a, None)[1][1] == a                       # a participant still resumes
    with db.write_session(engine) as s:
        service.set_study_status(s, sids[0], closed=True, max_participants=None)
    assert both("land_a", None, None) == ("StudyClosed", "this study is closed; thank you for your interest")
    engine.dispose()
