"""study.rawexec runs the hot paths' registered Core statements on the DB-API cursor: the rows it
reads equal SQLAlchemy's (values and Python types: datetimes, booleans, floats, JSON), what it
writes reads back the same through the ORM, a failed transaction leaves nothing, and statements
it cannot run as SQLAlchemy would are left to SQLAlchemy (or refused in a bare transaction).
On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from study import db, hotmedia, hotpath, listening, rawexec, service
from study.errors import InvalidRatings
from study.manifest import load_manifest
from tests.study.conftest import write_study


@pytest.fixture
def study(db_url, stimuli_dir):
    """A study with one participant whose first trial is shown, its media fetched and played."""
    manifest = write_study(stimuli_dir, n_clips=3, trials=2, name="raw", extra={"min_listen_s": 0.0})
    engine = db.make_engine(db_url)
    load_manifest(engine, manifest)
    with db.write_session(engine) as s:
        token = service.create_participant(s, hotpath.study_id(s.connection()), external_id="R1", seed=3).token
    with db.write_connection(engine) as c:
        state = hotpath.trial_state(c, token)
    with db.write_session(engine) as s:
        p = service.get_participant(s, token)
        trial = p.trials[0]
        for tok in [trial.video_token] + [it.media_token for it in trial.items]:
            listening.media_fetch(s, tok)
    yield {"engine": engine, "token": token, "trial": state["trial"]["trial_id"],
           "media": [it["url"].rsplit("/", 1)[1] for it in state["trial"]["tracks"]],
           "video": state["trial"]["video"].rsplit("/", 1)[1]}
    engine.dispose()


def _through_sqlalchemy(engine, stmt, params):
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(stmt, params).all()]


def _through_rawexec(engine, stmt, params):
    with rawexec.transaction(engine) as c:
        return [tuple(r) for r in c.execute(stmt, params).all()]


def test_registered_selects_read_what_sqlalchemy_reads(study):
    e, token, trial = study["engine"], study["token"], study["trial"]
    with db.write_connection(e) as c:
        hotpath.save_click(c, token, trial, {"A": {"overall": 4}})   # a rating with its timestamp
        pid = c.execute(hotpath.J.participant, {"token": token}).first().id
        tid = c.execute(hotpath.Q.open_trial["sqlite"], {"token": token, "public_id": trial}).first().tid
    cases = [
        (hotpath.Q.open_trial[e.dialect.name], {"token": token, "public_id": trial}),
        (hotpath.Q.items, {"tid": tid}),
        (hotpath.Q.study, {"id": 1}),                                   # a JSON column
        (hotpath.J.participant, {"token": token}),                     # booleans
        (hotpath.J.next_trial, {"pid": pid}),
        (hotpath.J.view_items, {"tid": tid}),
        (hotpath.J.ratings, {"tid": tid}),
        (hotpath.J.n_trials, {"pid": pid}),
        (hotmedia._Q_TRACK, {"tok": study["media"][0]}),
        (hotmedia._Q_VIDEO, {"tok": study["video"]}),
    ]
    kinds = set()
    for stmt, params in cases:
        want, got = _through_sqlalchemy(e, stmt, params), _through_rawexec(e, stmt, params)
        assert want, stmt
        assert got == want, stmt
        assert [[type(v) for v in r] for r in got] == [[type(v) for v in r] for r in want], stmt
        kinds |= {type(v) for r in got for v in r}
    assert {dt.datetime, bool, float, int, str, dict} <= kinds


def test_rows_written_raw_read_back_through_the_orm(study):
    e, token, trial = study["engine"], study["token"], study["trial"]
    before = db.utcnow()
    with rawexec.transaction(e) as c:
        hotpath.save_click(c, token, trial, {"A": {"overall": 4, "sync": 2}, "B": {"overall": 5}})
        out = hotpath.listen_report(c, token, trial, "play", "A", 0.0)
    assert out["listened"]["A"] == 0.0
    with db.read_session(e) as s:
        p = service.get_participant(s, token)
        t = p.trials[0]
        scores = {(r.label, r.axis): r.score for r in t.ratings}
        stamps = [r.rated_at for r in t.ratings] + [p.last_active_at, t.last_beat_at, t.started_at]
        plays = {it.label: it.plays for it in t.items}
    assert scores == {("A", "overall"): 4, ("A", "sync"): 2, ("B", "overall"): 5}
    assert all(isinstance(x, dt.datetime) and before - dt.timedelta(seconds=1) <= x for x in stamps)
    assert plays["A"] == 1 and plays["B"] == 0


def test_a_failed_transaction_leaves_nothing(study):
    e, token, trial = study["engine"], study["token"], study["trial"]
    with pytest.raises(RuntimeError):
        with rawexec.transaction(e) as c:
            hotpath.save_click(c, token, trial, {"A": {"overall": 4}})
            raise RuntimeError("the request failed after the save")
    with pytest.raises(InvalidRatings):            # a rule broken: nothing stored either
        with rawexec.transaction(e) as c:
            hotpath.save_click(c, token, trial, {"A": {"overall": 99}})
    with db.read_session(e) as s:
        assert s.scalars(select(db.Rating)).all() == []
    with rawexec.transaction(e) as c:                      # and the connection is usable again
        hotpath.save_click(c, token, trial, {"A": {"overall": 2}})
    with db.read_session(e) as s:
        assert [r.score for r in s.scalars(select(db.Rating))] == [2]


def test_statements_sqlalchemy_must_run_are_left_to_it(study):
    e = study["engine"]
    kept = {"RETURNING": hotpath.J.finish, "a bare insert": hotpath.J.new_items,
            "a Python-side default": db.ListenEvent.__table__.insert().values(trial_id=1, kind="fetch")}
    for why, stmt in kept.items():
        with pytest.raises(ValueError):
            rawexec.Prepared(stmt, e.dialect)
    unregistered = select(db.Study.__table__.c.name)
    with db.write_connection(e) as c:                      # a Core connection: SQLAlchemy runs it
        assert c.execute(unregistered).scalar() == "raw"
    with pytest.raises(TypeError):
        with rawexec.transaction(e) as c:                  # a bare transaction refuses it
            c.execute(unregistered)
