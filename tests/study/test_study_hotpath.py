"""study.hotpath does what the service does: the same requests sent through the ORM path
(service.submit_ratings(complete=False), listening.report) and through the Core hot path give
the same errors, the same stored scores and the same listening credit, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from study import db, hotpath, listening, rawexec, service
from study.manifest import load_manifest
from tests.study.conftest import write_study

AXES = ("overall", "sync", "quality")


class Orm:
    def __init__(self, engine):
        self.e = engine

    def click(self, token, tid, ratings):
        with db.write_session(self.e) as s:
            service.submit_ratings(s, token, tid, ratings, complete=False)

    def report(self, token, tid, kind, label, seconds):
        with db.write_session(self.e) as s:
            return listening.report(s, token, tid, kind, label, seconds)


class Core(Orm):
    """The hot path in a Core write connection, or (`transaction=rawexec.transaction`) in the bare
    DB-API transaction the hot routes use."""

    def __init__(self, engine, transaction=db.write_connection):
        super().__init__(engine)
        self.transaction = transaction

    def click(self, token, tid, ratings):
        with self.transaction(self.e) as c:
            hotpath.save_click(c, token, tid, ratings)

    def report(self, token, tid, kind, label, seconds):
        with self.transaction(self.e) as c:
            return hotpath.listen_report(c, token, tid, kind, label, seconds)


def _outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except service.StudyError as e:
        return (type(e).__name__, str(e))


def _snapshot(engine, token) -> dict:
    """Everything the two paths write, keyed by trial order and label (ids differ)."""
    with db.read_session(engine) as s:
        p = service.get_participant(s, token)
        out = {"active": p.last_active_at is not None, "scores": {}, "items": {}, "events": [], "trials": {}}
        for t in p.trials:
            out["trials"][t.order] = (t.started_at is not None, t.last_beat_at is not None, t.completed_at is not None)
            for r in t.ratings:
                out["scores"][(t.order, r.label, r.axis)] = r.score
            for it in t.items:
                out["items"][(t.order, it.label)] = (it.plays, round(it.listened_s, 3), it.fetched_at is not None)
            out["events"] += sorted((t.order, ev.label or "", ev.kind, ev.seconds) for ev in
                                    s.scalars(select(db.ListenEvent).where(db.ListenEvent.trial_id == t.id)))
    return out


def _script(impl, engine, token, other_tid):
    """One participant's requests, good and bad; returns every outcome."""
    with db.read_session(engine) as s:
        p = service.get_participant(s, token)
        trials = [(t.public_id, [it.media_token for it in t.items], t.video_token) for t in p.trials]
    (t1, media1, video1), (t2, _m2, _v2) = trials[0], trials[1]
    good = {"A": {"overall": 4}}
    res = [_outcome(impl.click, token, t1, good)]                       # nothing fetched yet
    res.append(_outcome(impl.report, token, t1, "play", "A", 0.0))
    with db.write_session(engine) as s:
        listening.media_fetch(s, media1[0])                             # track A only
    res.append(_outcome(impl.click, token, t1, good))                   # not played, no video
    res.append(_outcome(impl.report, token, t1, "play", "A", 0.0))
    time.sleep(0.45)
    res.append(_outcome(impl.report, token, t1, "beat", "A", 0.4))      # credited 0.4 s
    time.sleep(0.45)
    res.append(_outcome(impl.report, token, t1, "end", "A", 0.45))
    res.append(_outcome(impl.click, token, t1, good))                   # video not fetched
    with db.write_session(engine) as s:
        listening.media_fetch(s, video1)
    res.append(_outcome(impl.click, token, t1, good))
    res.append(_outcome(impl.click, token, t1, {"A": {"overall": 4, "sync": 2}}))   # same + new
    res.append(_outcome(impl.click, token, t1, {"A": {"overall": 5}}))  # changed
    res.append(_outcome(impl.click, token, t1, {"B": {"overall": 5}}))  # B not played
    res.append(_outcome(impl.click, token, t1, {"A": {"loudness": 5}}))
    res.append(_outcome(impl.click, token, t1, {"A": {"overall": 9}}))
    res.append(_outcome(impl.click, token, t1, {"Z": {"overall": 3}}))
    res.append(_outcome(impl.click, token, t1, {}))
    res.append(_outcome(impl.report, token, t1, "beat", "Z", 1.0))
    res.append(_outcome(impl.report, token, t1, "stop", "A", 1.0))
    res.append(_outcome(impl.click, token, t2, good))                   # out of order
    res.append(_outcome(impl.report, token, t2, "play", "A", 0.0))
    res.append(_outcome(impl.click, token, other_tid, good))            # someone else's trial
    res.append(_outcome(impl.click, "no-such-token-xyz", t1, good))
    res.append(_outcome(impl.click, "", t1, good))
    res.append(_outcome(impl.report, "x" * 65, t1, "play", "A", 0.0))
    # complete trial 1 (the service's path for both), then it is closed to both paths
    with db.write_session(engine) as s:
        for tok in [m for m in media1[1:]]:
            listening.media_fetch(s, tok)
    for lab in ("B", "C")[: len(media1) - 1]:
        impl.report(token, t1, "play", lab, 0.0)
        time.sleep(0.45)
        impl.report(token, t1, "end", lab, 0.45)
    full = {lab: {a: 3 for a in AXES} for lab in "ABC"[: len(media1)]}
    with db.write_session(engine) as s:
        service.submit_ratings(s, token, t1, full, complete=True)
    res.append(_outcome(impl.click, token, t1, good))
    res.append(_outcome(impl.report, token, t1, "beat", "A", 0.5))
    return res


@pytest.mark.slow
def test_hot_path_matches_the_service(db_url, stimuli_dir):
    manifest = write_study(stimuli_dir, n_clips=6, trials=2, name="hot", extra={"min_listen_s": 0.4})
    engine = db.make_engine(db_url)
    sid = load_manifest(engine, manifest)
    tokens = []
    with db.write_session(engine) as s:
        for i in range(4):
            tokens.append(service.create_participant(s, sid, external_id=f"H{i}", seed=7).token)
    with db.read_session(engine) as s:
        other_tid = service.get_participant(s, tokens[3]).trials[0].public_id
    orm = _script(Orm(engine), engine, tokens[0], other_tid)
    core = _script(Core(engine), engine, tokens[1], other_tid)
    raw = _script(Core(engine, rawexec.transaction), engine, tokens[2], other_tid)
    kinds = [o[0] for o in orm]
    assert kinds.count("ok") >= 8 and {"NotListened", "TrialClosed", "InvalidRatings", "TrialNotFound",
                                       "UnknownParticipant", "StudyError"} <= set(kinds)
    assert core == orm and raw == orm
    a, b, c = (_snapshot(engine, t) for t in tokens[:3])
    assert a == b == c
    assert a["scores"][(0, "A", "overall")] == 3 and a["items"][(0, "A")][1] == pytest.approx(0.85, abs=0.01)
    engine.dispose()
