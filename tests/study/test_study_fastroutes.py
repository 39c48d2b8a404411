"""The hot routes answered below FastAPI (study.fastroutes), the state a trial page carries, and
the page's fewer play reports (one when a track's credit can be complete) against the rules."""

from __future__ import annotations

import time

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from study import db, entry, fastroutes, hotpath, service, web
from study.pages import StudySecurity
from tests.study.conftest import serve_study
from tests.study.helpers import HttpParticipant
from tests.study.page_client import page_state

MIN = 0.3
AXES = ("overall", "sync", "quality")
MARK = "ECHOMARKER"


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    srv, engine, sid, settings = serve_study(tmp_path_factory.mktemp("fast"), "fast", 3, MIN)
    yield {"srv": srv, "engine": engine, "sid": sid, "settings": settings}
    srv.stop()


def plain_app(settings, engine) -> FastAPI:
    """web.create_app without HotRoutes: every request through the FastAPI routes."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(web.StudyApp(settings, engine).router())
    app.add_middleware(StudySecurity, prefixes=(settings.prefix, settings.admin_prefix))
    return app


def test_trial_page_carries_the_state_that_the_state_url_answers(study):
    p = HttpParticipant(study["srv"].url, pid="EMBED1")
    r = p.request("GET", "/study?PROLIFIC_PID=EMBED1")
    sid = r.text.split('name="study_id" value="')[1].split('"')[0]
    r = p.request("POST", "/study/consent", data={"study_id": sid, "agree": "yes", "PROLIFIC_PID": "EMBED1"})
    p.token = r.headers["location"].rsplit("/", 1)[-1]
    page = f"/study/p/{p.token}"
    assert page_state(p.request("GET", page).text) is None          # the instructions: no trial yet
    with db.read_session(study["engine"]) as s:
        assert all(t.started_at is None for t in service.get_participant(s, p.token).trials)
    p.request("POST", page + "/instructions")
    embedded = page_state(p.request("GET", page).text)
    assert embedded["trial"]["tracks"] and embedded == p.state()      # the same state, the same trial
    assert page_state(p.request("GET", page).text) == p.state()       # and again on a reload
    assert '<script type="application/json" id="trial-state">' in p.request("GET", page).text


@pytest.fixture(scope="module")
def slow_study(tmp_path_factory):
    """min_listen_s 1 s: long enough that a few requests take less on a busy machine."""
    srv, engine, sid, _ = serve_study(tmp_path_factory.mktemp("fast1s"), "fast1s", 2, 1.0, trials=1, duration=2.0)
    yield {"srv": srv, "engine": engine, "sid": sid}
    srv.stop()


def test_one_report_per_track_still_enforces_the_minimum(slow_study):
    """The page's reports: a single `started` beat per track when its credit can be complete. The
    first report of a trial is credited at most the time since the trial was shown, and each one
    after at most the time since the previous one, so three tracks take 3 x 1 s of real time."""
    need, engine = 1.0, slow_study["engine"]
    p = HttpParticipant(slow_study["srv"].url)
    shown = time.monotonic()
    with db.write_connection(engine) as c:
        pid, p.token = entry.create_participant(c, slow_study["sid"], external_id="ONEBEAT")
        entry.finish_instructions(c, pid)
        trial = hotpath.trial_state(c, p.token)["trial"]                # shown: its time starts
    p.fetch_media(trial)

    def beat(lab, seconds):
        r = p.request("POST", f"/study/api/{p.token}/trials/{trial['trial_id']}/listen",
                      json={"kind": "beat", "label": lab, "seconds": seconds, "started": True})
        assert r.status_code == 200, r.text
        return r.json()["listened"]
    first = beat("A", 60.0)                                             # claims 60 s right away
    assert first["A"] <= time.monotonic() - shown and first["A"] < need
    r = p.rate(trial, {"A": {"overall": 3}}, complete=False)
    assert r.status_code == 409 and "play every track" in r.json()["error"]
    time.sleep(need + 0.05)
    t0 = time.monotonic()
    got = [beat(lab, need + 0.05) for lab in "ABC"]                     # forged: no wait in between
    assert got[0]["A"] >= need and got[2]["B"] < need and got[2]["C"] <= time.monotonic() - t0
    assert p.rate(trial, {"B": {"overall": 3}}, complete=False).status_code == 409
    for lab in "BC":                                                    # honest: one report after 1 s each
        time.sleep(need + 0.05)
        assert beat(lab, need + 0.05)[lab] >= need
    assert sum(p.state()["trial"]["listened"].values()) <= time.monotonic() - shown
    assert p.rate(trial, {lab: {a: 4 for a in AXES} for lab in "ABC"}).status_code == 200
    with db.read_session(engine) as s:                                  # `started` reports count as plays
        log = service.export_listening(s, slow_study["sid"])
        df = service.export_ratings(s, slow_study["sid"])
    mine = df[df["external_id"] == "ONEBEAT"]
    assert len(mine) == 9 and (mine["plays"] == 2).all() and (mine["listen_s"] >= need).all()
    assert set(log[log["external_id"] == "ONEBEAT"]["kind"]) == {"fetch", "beat"}


def _pair(study):
    """A participant's state, and two clients on the same database: with and without HotRoutes."""
    fast = TestClient(web.create_app(study["settings"], engine=study["engine"]))
    plain = TestClient(plain_app(study["settings"], study["engine"]))
    return fast, plain


BAD_BODIES = [
    ("listen", {"kind": "stop", "label": "A", "seconds": 1}),
    ("listen", {"kind": "beat", "label": "Z", "seconds": 1}),
    ("listen", {"kind": "beat", "label": "A", "seconds": -1}),
    ("listen", {"kind": "beat", "label": "A", "seconds": 61}),
    ("listen", {"kind": "beat", "label": "A", "seconds": None}),
    ("listen", {"kind": "beat", "label": "A", "started": 2}),
    ("listen", {"kind": "beat", "label": "A", MARK: 1}),
    ("listen", {"kind": "beat", "label": "A\n"}),
    ("listen", [1, 2]),
    ("ratings", {"ratings": {"A": {"overall": 3.5}}}),
    ("ratings", {"ratings": {"A": {"overall": True}}}),
    ("ratings", {"ratings": {"A": {"overall": 101}}}),
    ("ratings", {"ratings": {"A": {MARK + "!": 3}}}),
    ("ratings", {"ratings": {"A": {f"x{i}": 3 for i in range(17)}}}),
    ("ratings", {"ratings": {lab: {} for lab in "ABCDEFGHI"}}),
    ("ratings", {"ratings": {"A": {"overall": 3}}, "complete": "no"}),
    ("ratings", {"ratings": {"A": {"overall": 3}}, MARK: 1}),
    ("ratings", {"ratings": [MARK]}),
    # well formed, refused by the study's rules (answered by HotRoutes itself)
    ("ratings", {"ratings": {"A": {"overall": 3}}, "complete": False}),      # not played
    ("ratings", {"ratings": {"A": {"loudness": 3}}, "complete": False}),
    ("ratings", {"ratings": {"A": {"overall": 9}}, "complete": False}),
    ("ratings", {"ratings": {"D": {"overall": 3}}, "complete": True}),
    ("listen", {"kind": "beat", "label": "D", "seconds": 1}),
]


def test_hot_routes_answer_bad_requests_like_the_fastapi_routes(study):
    fast, plain = _pair(study)
    with db.write_connection(study["engine"]) as c:
        _, token = entry.create_participant(c, study["sid"])
        entry.finish_instructions(c, _)
        tid = hotpath.trial_state(c, token)["trial"]["trial_id"]
    cases = [(f"/study/api/{token}/trials/{tid}/{what}", {"json": body}) for what, body in BAD_BODIES]
    cases += [
        (f"/study/api/{token}/trials/{tid}/ratings", {"content": b"{" + MARK.encode()}),
        (f"/study/api/{token}/trials/{tid}/ratings", {"content": b'{"ratings": {}}',
                                                      "headers": {"content-type": "text/plain"}}),
        (f"/study/api/{token}/trials/{tid}/listen", {"content": b""}),
        (f"/study/api/{token}/trials/{'x' * 24}/ratings", {"json": {"ratings": {}}}),       # not theirs
        (f"/study/api/{token}/trials/{2**63}/listen", {"json": {"kind": "play", "label": "A"}}),
        (f"/study/api/{MARK}abcdefgh/trials/{tid}/listen", {"json": {"kind": "play", "label": "A"}}),
        (f"/study/api/{'t' * 65}/trials/{tid}/listen", {"json": {"kind": "play", "label": "A"}}),
        (f"/study/api/{token}/trials/{tid}/ratings", {"content": b"{" + b" " * 20_000 + b"}",
                                                      "headers": {"content-type": "application/json"}}),
    ]
    for url, kw in cases:
        a, b = fast.post(url, **kw), plain.post(url, **kw)
        assert (a.status_code, a.content) == (b.status_code, b.content), (url, kw)
        assert 400 <= a.status_code < 500 and len(a.content) < 200 and MARK not in a.text, (url, a.text)
        assert a.headers["content-type"] == "application/json" and "x-frame-options" in a.headers
    for url in (f"/study/media/{MARK}abcdefgh", f"/study/media/{'m' * 70}", "/study/media/short"):
        a, b = fast.get(url), plain.get(url)
        assert (a.status_code, a.content) == (b.status_code, b.content) and a.status_code in (404, 422)
    with db.read_session(study["engine"]) as s:
        t = service.get_participant(s, token).trials[0]
        assert not t.ratings and all(it.listened_s == 0 and it.plays == 0 for it in t.items)


def test_well_formed_requests_never_reach_fastapi_and_match_it(study):
    """HotRoutes over an app that records what reaches it: the page's requests never do (and
    answer like the FastAPI routes); a malformed one goes on with its body intact."""
    reached = []

    async def downstream(scope, receive, send):
        reached.append((scope["path"], (await receive()).get("body")))
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sa = web.StudyApp(study["settings"], study["engine"])
    only_hot = TestClient(StudySecurity(fastroutes.HotRoutes(downstream, study=sa), prefixes=("/study",)))
    fast, plain = _pair(study)
    tokens = []
    with db.write_connection(study["engine"]) as c:
        for _ in range(2):
            pid, token = entry.create_participant(c, study["sid"], seed=11)
            entry.finish_instructions(c, pid)
            tokens.append((token, hotpath.trial_state(c, token)))
    answers = []
    for client, (token, st) in zip((only_hot, plain), tokens):
        t = st["trial"]
        api = f"/study/api/{token}/trials/{t['trial_id']}"
        got = [client.get(t["video"], headers={"Range": "bytes=0-99"}), client.get(t["video"])]
        got += [client.get(tr["url"]) for tr in t["tracks"]]
        got.append(client.get(t["tracks"][0]["url"], headers={"Range": "bytes=999999999-"}))
        time.sleep(MIN + 0.05)
        for tr in t["tracks"]:
            got.append(client.post(f"{api}/listen", json={"kind": "beat", "label": tr["label"],
                                                          "seconds": MIN + 0.01, "started": True}))
            time.sleep(MIN + 0.05)
        got.append(client.post(f"{api}/ratings", json={"ratings": {"A": {"overall": 2}}, "complete": False}))
        full = {tr["label"]: {a: 3 for a in AXES} for tr in t["tracks"]}
        got.append(client.post(f"{api}/ratings", json={"ratings": full}))
        got.append(client.post(f"{api}/ratings", json={"ratings": full}))             # closed: 409
        answers.append(got)
    assert reached == []
    hot, slow = answers
    for a, b in zip(hot, slow):
        assert a.status_code == b.status_code and a.headers.get("content-type") == b.headers.get("content-type")
        assert {k for k in a.headers if k != "date"} == {k for k in b.headers if k != "date"}
    assert [a.status_code for a in hot] == [206, 200, 200, 200, 200, 416] + [200] * 3 + [200, 200, 409]
    assert [len(hot[i].content) for i in (0, 2, 3, 4, 5)] == [len(slow[i].content) for i in (0, 2, 3, 4, 5)]
    assert hot[-2].json()["trial"]["index"] == 1 and slow[-2].json()["trial"]["index"] == 1
    assert all(a.json()["listened"] == {lab: pytest.approx(v, abs=0.02) for lab, v in b.json()["listened"].items()}
               for a, b in zip(hot[6:9], slow[6:9]))
    assert hot[-1].json() == slow[-1].json()
    # malformed: passed on to the app, body intact
    token, st = tokens[0]
    r = only_hot.post(f"/study/api/{token}/trials/{st['trial']['trial_id']}/listen", content=b'{"kind": 1}',
                      headers={"content-type": "application/json"})
    assert r.status_code == 299 and reached == [(f"/study/api/{token}/trials/{st['trial']['trial_id']}/listen",
                                                 b'{"kind": 1}')]


def test_a_failure_in_a_hot_route_is_a_short_500(study, monkeypatch):
    fast, _ = _pair(study)
    with db.write_connection(study["engine"]) as c:
        pid, token = entry.create_participant(c, study["sid"])
        entry.finish_instructions(c, pid)
        tid = hotpath.trial_state(c, token)["trial"]["trial_id"]

    def broken(*a, **k):
        raise RuntimeError(MARK)
    monkeypatch.setattr(hotpath, "listen_report", broken)
    r = fast.post(f"/study/api/{token}/trials/{tid}/listen", json={"kind": "play", "label": "A"})
    assert r.status_code == 500 and r.json() == {"error": "internal error; your answers so far are saved"}
    assert MARK not in r.text and "x-frame-options" in r.headers


@pytest.mark.parametrize("on_loop", [True, False])
def test_database_work_on_the_loop_only_for_one_process_on_sqlite(study, on_loop):
    """SQLite served by one process: the hot routes and the participant routes run their database
    work on the event loop; `db_on_loop=False` (what `serve --workers N` sets) keeps the thread
    pool. Either way the answers are the same."""
    import dataclasses
    import inspect

    from study import serving
    settings = dataclasses.replace(study["settings"], db_on_loop=None if on_loop else False)
    sa = web.StudyApp(settings, study["engine"])
    assert sa.db_on_loop is on_loop and fastroutes.HotRoutes(None, study=sa).inline is on_loop
    page = next(r for r in sa.router().routes if r.path == "/study/p/{token}")
    assert inspect.iscoroutinefunction(page.endpoint) is on_loop
    assert "db_on_loop=False" in inspect.getsource(serving.app_from_env)
    client = TestClient(web.create_app(settings, engine=study["engine"]))
    with db.write_connection(study["engine"]) as c:
        pid, token = entry.create_participant(c, study["sid"])
        entry.finish_instructions(c, pid)
    st = page_state(client.get(f"/study/p/{token}").text)
    t = st["trial"]
    assert client.get(t["tracks"][0]["url"]).status_code == 200
    r = client.post(f"/study/api/{token}/trials/{t['trial_id']}/ratings",
                    json={"ratings": {"A": {"overall": 3}}, "complete": False})
    assert r.status_code == 409 and "play every track" in r.json()["error"]
    r = client.post(f"/study/api/{token}/trials/{t['trial_id']}/listen", json={"kind": "end", "label": "A",
                                                                              "seconds": 0.1, "started": True})
    assert r.status_code == 200 and r.json()["min_listen_s"] == MIN
