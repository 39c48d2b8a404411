"""Listening enforced on the server: scripted participants over real HTTP."""

from __future__ import annotations

import io
import time

import pandas as pd
import pytest
from sqlalchemy import func, select

from study import db, service
from tests.study.conftest import serve_study
from tests.study.helpers import HttpParticipant

MIN = 0.3
FULL = lambda trial: {t["label"]: {a: 4 for a in ("overall", "sync", "quality")} for t in trial["tracks"]}  # noqa: E731


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv, engine, sid, _ = serve_study(tmp_path_factory.mktemp("listen"), "listen", 2, MIN)
    yield srv, engine, sid
    srv.stop()


def _stored(engine, pid):
    with db.read_session(engine) as s:
        return s.scalar(select(func.count()).select_from(db.Rating).join(db.Trial).join(db.Participant)
                        .where(db.Participant.external_id == pid))


def test_scripts_that_never_fetch_media_cannot_complete_a_trial(server):
    srv, engine, _ = server
    p = HttpParticipant(srv.url, pid="NOFETCH")
    p.join()
    trial = p.state()["trial"]
    # it even waits in real time and reports play for every track, but never fetched a file
    p.listen(trial, MIN + 0.1)
    for complete in (True, False):
        r = p.rate(trial, FULL(trial), complete=complete)
        assert r.status_code == 409 and "play every track" in r.json()["error"]
    assert _stored(engine, "NOFETCH") == 0 and p.state()["trial"]["trial_id"] == trial["trial_id"]
    assert set(p.state()["trial"]["listened"].values()) == {0.0}


def test_forged_reports_are_credited_no_faster_than_real_time(server):
    srv, engine, _ = server
    p = HttpParticipant(srv.url, pid="FORGER")
    p.join()
    trial = p.state()["trial"]
    p.fetch_media(trial)
    t0 = time.monotonic()
    for t in trial["tracks"]:                     # 60 s claimed per track, as fast as possible
        p.report(trial, "play", t["label"], 0)
        for _ in range(3):
            r = p.report(trial, "beat", t["label"], 60.0)
            assert r.status_code == 200
    elapsed = time.monotonic() - t0
    listened = r.json()["listened"]
    assert sum(listened.values()) <= elapsed + 0.01, (listened, elapsed)  # never more than real time
    r = p.rate(trial, FULL(trial))
    short = [lab for lab, v in listened.items() if v < MIN]
    assert (r.status_code == 409) == bool(short)
    # beyond the API's range: refused outright
    assert p.report(trial, "beat", "A", 1e9).status_code == 422


def test_credit_rule_on_the_server_clock(server):
    """play, then 'beat' reports claiming 60 s: credited 0 at the same instant, the elapsed time
    after 2 s, and at most MAX_BEAT_S after a long gap; nothing before the file was fetched."""
    import datetime as dt

    from study import listening
    _, engine, sid = server
    with db.write_session(engine) as s:
        p = service.create_participant(s, sid)
        tok, trial = p.token, p.trials[0]
        tid, item = trial.id, trial.items[0]
        label, media_token = item.label, item.media_token
    t = dt.datetime(2030, 1, 1)
    credited = []
    with db.write_session(engine) as s:
        listening.report(s, tok, tid, "play", label, 0, now=t)
        credited.append(listening.report(s, tok, tid, "beat", label, 60, now=t + dt.timedelta(seconds=1))["listened"][label])
        listening.media_fetch(s, media_token)
        for secs in (0, 2, 100):
            t += dt.timedelta(seconds=secs)
            listening.report(s, tok, tid, "play" if secs == 0 else "beat", label, 60, now=t)
            credited.append(s.get(db.TrialItem, item.id).listened_s)
    assert credited == [0.0, 0.0, 2.0, 2.0 + listening.MAX_BEAT_S]


def test_credit_shown_to_the_page_never_runs_ahead_of_the_server(server):
    """The page stops reporting a track once the `listened` it is shown reaches min_listen_s, so
    that figure is rounded down: 0.2996 s credited shows as 0.29 (not 0.3 = MIN, which would
    unlock a track whose scores the server still refuses), and exactly MIN shows as MIN."""
    import datetime as dt

    from study import hotpath, listening
    assert [service.shown_listened(x) for x in (0.0, 0.2996, 0.29, MIN, MIN - 5e-7, 1.005)] == \
        [0.0, 0.29, 0.29, MIN, MIN, 1.0]
    _, engine, sid = server
    with db.write_session(engine) as s:
        p = service.create_participant(s, sid)
        tok, trial = p.token, p.trials[0]
        tid, public_id, item = trial.id, trial.public_id, trial.items[0]
        label = item.label
        listening.media_fetch(s, trial.video_token)
        listening.media_fetch(s, item.media_token)
    t = dt.datetime(2030, 1, 1)
    with db.write_session(engine) as s:
        listening.report(s, tok, tid, "play", label, 0, now=t)
        shown = listening.report(s, tok, tid, "beat", label, 60, now=t + dt.timedelta(seconds=0.2996))
    assert shown["listened"][label] == 0.29 < shown["min_listen_s"] == MIN
    with db.write_session(engine) as s:
        assert service.trial_view(s, s.get(db.Trial, tid))["listened"][label] == 0.29
        with pytest.raises(service.NotListened):
            service.submit_ratings(s, tok, tid, {label: {"overall": 3}}, complete=False)
    with db.write_connection(engine) as c:      # the hot path shows the same
        assert hotpath.listen_report(c, tok, public_id, "end", label, 0.0)["listened"][label] == 0.29


def test_listening_participant_completes_and_the_export_has_the_log(server):
    srv, engine, sid = server
    p = HttpParticipant(srv.url, pid="LISTENER")
    p.join()
    state = p.state()
    t0 = time.monotonic()
    while not state["done"]:
        trial = state["trial"]
        assert trial["min_listen_s"] == MIN
        p.fetch_media(trial)
        p.listen(trial, MIN + 0.15)
        r = p.rate(trial, FULL(trial))
        assert r.status_code == 200, r.text
        # the completed trial is closed: no more scores, no more play reports
        assert p.rate(trial, FULL(trial)).status_code == 409
        assert p.report(trial, "play", "A", 0).status_code == 409
        state = r.json()
    assert state["completion_code"] and time.monotonic() - t0 >= 2 * 3 * MIN
    with db.read_session(engine) as s:
        df = service.export_ratings(s, sid)
        log = service.export_listening(s, sid)
    mine = df[df["external_id"] == "LISTENER"]
    assert len(mine) == 2 * 9 and (mine["listen_s"] >= MIN).all() and (mine["plays"] == 1).all()
    assert (mine["trial_time_s"] >= 3 * MIN).all()
    assert (mine["external_study_id"] == "S1").all() and (mine["external_session_id"] == "X1").all()
    ev = log[log["external_id"] == "LISTENER"]
    assert sorted(ev["kind"].unique()) == ["end", "fetch", "play"]
    assert (ev[ev["kind"] == "fetch"].groupby("trial_id")["label"].apply(sorted).apply(tuple)
            == ("A", "B", "C", "video")).all()
    assert set(ev.loc[ev["label"] != "video", "system"]) == {"SystemAlphaSecret", "SystemBetaSecret",
                                                              "SystemGammaSecret"}
    # the admin can download the same log
    import httpx
    r = httpx.get(f"{srv.url}/admin/study/{sid}/listening.csv", auth=("admin", "pw"))
    assert r.status_code == 200 and len(pd.read_csv(io.StringIO(r.text))) == len(log)
