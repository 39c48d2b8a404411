"""Integrity under abuse: bad requests over real HTTP, consent, PROLIFIC_PID resume, preview,
closing and capping, balance on active participants, CSV formula injection, headers."""

from __future__ import annotations

import datetime as dt
import io
import json
import random

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from study import db, export, service, web
from study.admin import csrf_token
from study.manifest import load_manifest
from study.settings import StudySettings
from tests.study.conftest import serve_study, write_study
from tests.study.helpers import HttpParticipant, rate_all

MARK = "ECHOMARKER"
TABLES = (db.Participant, db.Trial, db.TrialItem, db.Rating, db.ListenEvent, db.Study)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv, engine, sid, _ = serve_study(tmp_path_factory.mktemp("integrity"), "integrity", 3, 0.2)
    yield srv, engine, sid
    srv.stop()


def snapshot(engine) -> dict:
    """Every row of the tables a request could touch (Participant.last_active_at aside)."""
    out = {}
    with db.read_session(engine) as s:
        for model in TABLES:
            cols = [c for c in model.__table__.columns if c.name not in ("last_active_at", "started_at")]
            out[model.__tablename__] = sorted(map(tuple, s.execute(select(*cols)).all()), key=repr)
    return out


def test_every_bad_request_gets_a_short_4xx_and_changes_nothing(server):
    srv, engine, sid = server
    p = HttpParticipant(srv.url, pid="GOOD1")
    p.join()
    trial = p.state()["trial"]
    tok, tid = p.token, trial["trial_id"]
    api = f"/study/api/{tok}"
    big_axes = json.dumps({"ratings": {"A": {f"{MARK}{i}": 3 for i in range(1_000_000)}}})
    cases = [  # (name, method, url, kwargs)
        ("participant without consent", "POST", "/study/api/participants", {"json": {"external_id": MARK}}),
        ("participant consent false", "POST", "/study/api/participants", {"json": {"consent": False}}),
        ("consent form not agreed", "POST", "/study/consent", {"data": {"study_id": str(sid), "PROLIFIC_PID": MARK}}),
        ("consent study id 2^63", "POST", "/study/consent", {"data": {"study_id": str(2**63), "agree": "yes"}}),
        ("PROLIFIC_PID too long", "GET", f"/study?PROLIFIC_PID={MARK * 20}", {}),
        ("study 2^63", "GET", f"/study?study={2**63}", {}),
        ("unknown study", "GET", f"/study?study={MARK}", {}),
        ("trial id 2^63", "POST", f"{api}/trials/{2**63}/ratings", {"json": {"ratings": {}}}),
        ("trial id -1", "POST", f"{api}/trials/-1/ratings", {"json": {"ratings": {}}}),
        ("someone else's trial id", "POST", f"{api}/trials/{'x' * 24}/ratings", {"json": {"ratings": {}}}),
        ("token too long", "GET", f"/study/api/{'t' * 100}/state", {}),
        ("unknown token", "GET", f"/study/api/{MARK}abcdefgh/state", {}),
        ("100 MB body", "POST", f"{api}/trials/{tid}/ratings", {"content": b"{" + b" " * 100_000_000 + b"}",
                                                                 "headers": {"content-type": "application/json"}}),
        ("1 MB chunked body", "POST", f"{api}/trials/{tid}/ratings",
         {"content": iter([b'{"ratings": {"A": {"' + MARK.encode() + b'": ' + b" " * 1_000_000 + b"3}}}"]),
          "headers": {"content-type": "application/json"}}),
        ("a million axes", "POST", f"{api}/trials/{tid}/ratings", {"content": big_axes.encode(),
                                                                    "headers": {"content-type": "application/json"}}),
        ("17 axes", "POST", f"{api}/trials/{tid}/ratings",
         {"json": {"ratings": {"A": {f"x{i}": 3 for i in range(17)}}}}),
        ("malformed JSON", "POST", f"{api}/trials/{tid}/ratings", {"content": b'{"ratings": ' + MARK.encode(),
                                                                    "headers": {"content-type": "application/json"}}),
        ("unknown field", "POST", f"{api}/trials/{tid}/ratings", {"json": {"ratings": {}, MARK: 1}}),
        ("label Z", "POST", f"{api}/trials/{tid}/ratings", {"json": {"ratings": {"Z": {"overall": 3}}}}),
        ("score 6", "POST", f"{api}/trials/{tid}/ratings", {"json": {"ratings": {"A": {"overall": 6}}, "complete": False}}),
        ("score as text", "POST", f"{api}/trials/{tid}/ratings", {"json": {"ratings": {"A": {"overall": MARK}}}}),
        ("score 2^63", "POST", f"{api}/trials/{tid}/ratings", {"json": {"ratings": {"A": {"overall": 2**63}}}}),
        ("score true", "POST", f"{api}/trials/{tid}/ratings", {"json": {"ratings": {"A": {"overall": True}}}}),
        ("unknown axis", "POST", f"{api}/trials/{tid}/ratings", {"json": {"ratings": {"A": {MARK: 3}}, "complete": False}}),
        ("rating before listening", "POST", f"{api}/trials/{tid}/ratings",
         {"json": {"ratings": {"A": {"overall": 3}}, "complete": False}}),
        ("listen seconds NaN", "POST", f"{api}/trials/{tid}/listen", {"content": b'{"kind": "beat", "label": "A", '
                                                                      b'"seconds": NaN}', "headers": {"content-type": "application/json"}}),
        ("listen kind unknown", "POST", f"{api}/trials/{tid}/listen", {"json": {"kind": MARK, "label": "A"}}),
        ("unknown media", "GET", f"/study/media/{MARK}abcdefgh", {}),
        ("bad range", "GET", trial["tracks"][0]["url"], {"headers": {"Range": f"bytes={MARK}"}}),
        ("admin without password", "POST", f"/admin/study/{sid}/status", {"data": {"closed": "1"}}),
        ("admin without form token", "POST", f"/admin/study/{sid}/status", {"data": {"closed": "1"}, "auth": ("a", "pw")}),
        ("admin foreign origin", "POST", f"/admin/study/{sid}/status",
         {"data": {"closed": "1", "csrf": csrf_token("pw")}, "auth": ("a", "pw"),
          "headers": {"Origin": "https://attacker.example"}}),
        ("admin participant 2^63", "POST", f"/admin/participant/{2**63}/exclude",
         {"data": {"csrf": csrf_token("pw")}, "auth": ("a", "pw")}),
        ("admin study 2^63", "GET", f"/admin/study/{2**63}", {"auth": ("a", "pw")}),
    ]
    before = snapshot(engine)
    c = httpx.Client(base_url=srv.url, timeout=120)
    results = []
    for name, method, url, kw in cases:
        try:
            r = c.request(method, url, **kw)
        except httpx.HTTPError:  # the server may close a connection it refused to read
            results.append((name, "closed"))
            continue
        results.append((name, r.status_code))
        assert 400 <= r.status_code < 500, (name, r.status_code, r.text[:200])
        assert len(r.content) < 1500 and MARK not in r.text and "Traceback" not in r.text, (name, r.text[:300])
        if r.headers.get("content-type", "").startswith("application/json"):
            assert set(r.json()) == {"error"} and len(r.json()["error"]) < 200, name
    assert [n for n, st in results if st == "closed"] in ([], ["100 MB body"]), results
    assert snapshot(engine) == before                   # nothing changed
    assert p.state()["trial"]["trial_id"] == tid        # and the server still serves
    print("\n" + "\n".join(f"  {st}  {n}" for n, st in results))


def test_security_headers_everywhere(server):
    srv, _, sid = server
    p = HttpParticipant(srv.url, pid="HEADERS")
    p.join()
    trial = p.state()["trial"]
    p.fetch_media(trial)
    seen = [(u, h) for _, u, _, h, _ in p.responses]
    seen.append(("admin", dict(httpx.get(f"{srv.url}/admin/study/{sid}", auth=("a", "pw")).headers)))
    assert len(seen) > 10
    for url, h in seen:
        assert "frame-ancestors 'none'" in h["content-security-policy"] and "'unsafe" not in h["content-security-policy"], url
        assert h["referrer-policy"] == "no-referrer" and h["x-content-type-options"] == "nosniff", url
        assert h["x-frame-options"] == "DENY", url


def test_consent_pid_resume_preview_close_cap_and_balance(tmp_path, stimuli_dir):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'c.db'}")
    sid = load_manifest(engine, write_study(stimuli_dir, n_clips=6, trials=2, name="flows"))
    client = TestClient(web.create_app(StudySettings(db_url="unused", admin_password="pw"), engine=engine))
    auth, form = ("a", "pw"), {"csrf": csrf_token("pw")}

    def count(model=db.Participant):
        with db.read_session(engine) as s:
            return s.scalar(select(func.count()).select_from(model))

    # participants only with consent
    with pytest.raises(service.ConsentRequired):
        with db.write_session(engine) as s:
            service.create_participant(s, sid, consent=False)
    assert client.post("/study/api/participants", json={}).status_code == 422 and count() == 0
    # the same PROLIFIC_PID resumes, in a new browser (no cookie), via the form, the link or the API
    r = client.post("/study/consent", data={"study_id": sid, "agree": "yes", "PROLIFIC_PID": "PID-A",
                                            "STUDY_ID": "ST", "SESSION_ID": "SE"}, follow_redirects=False)
    token = r.headers["location"].rsplit("/", 1)[-1]
    fresh = TestClient(client.app)
    r = fresh.get("/study?PROLIFIC_PID=PID-A", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].endswith(token) and "sid=" in r.headers["set-cookie"]
    r = fresh.post("/study/consent", data={"study_id": sid, "agree": "yes", "PROLIFIC_PID": "PID-A"},
                   follow_redirects=False)
    assert r.headers["location"].endswith(token)
    assert client.post("/study/api/participants", json={"consent": True, "external_id": "PID-A"}).json()["token"] == token
    assert count() == 1
    # preview: walks through, never counted, never exported
    r = client.post(f"/admin/study/{sid}/preview", data=form, auth=auth, follow_redirects=False)
    assert r.status_code == 303
    prev = r.headers["location"].rsplit("/", 1)[-1]
    assert "Preview" in client.get(f"/study/p/{prev}").text
    client.post(f"/study/p/{prev}/instructions")
    for _ in range(2):
        rate_all(engine, prev, random.Random(0))
    assert "completion-code" in client.get(f"/study/p/{prev}").text
    with db.read_session(engine) as s:
        assert service.study_progress(s, sid)["started"] == 1 and service.study_progress(s, sid)["previews"] == 1
        assert service.counted_participants(s, service.get_study(s, sid)) == 1
        assert len(service.export_ratings(s, sid)) == 0
    # close: new participants are refused, the existing one continues
    assert client.post(f"/admin/study/{sid}/status", data={**form, "closed": "1"}, auth=auth,
                       follow_redirects=False).status_code == 303
    assert TestClient(client.app).get("/study").status_code == 403     # a new browser
    assert client.get("/study").status_code == 200                     # the participant's own browser
    assert client.post("/study/api/participants", json={"consent": True, "external_id": "PID-B"}).status_code == 403
    assert client.get(f"/study/api/{token}/state").status_code == 200 and count() == 2
    # cap: 2 counted participants; an abandoned one (idle > abandon_after_min) no longer counts
    client.post(f"/admin/study/{sid}/status", data={**form, "closed": "0", "max_participants": "2"}, auth=auth)
    b = client.post("/study/api/participants", json={"consent": True, "external_id": "PID-B"}).json()["token"]
    assert client.post("/study/api/participants", json={"consent": True, "external_id": "PID-C"}).status_code == 403
    with db.write_session(engine) as s:
        s.execute(update(db.Participant).where(db.Participant.token == b)
                  .values(last_active_at=db.utcnow() - dt.timedelta(hours=3),
                          created_at=db.utcnow() - dt.timedelta(hours=3)))
        b_clips = {t.clip_id for t in service.get_participant(s, b).trials}
    # balance counts completed and active participants only: PID-B's clips are free again
    with db.read_session(engine) as s:
        counts = service._clip_counts(s, service.get_study(s, sid))
        a_clips = {t.clip_id for t in service.get_participant(s, token).trials}
    assert {c for c, n in counts.items() if n} == a_clips and not b_clips & a_clips
    c_token = client.post("/study/api/participants", json={"consent": True, "external_id": "PID-C"}).json()["token"]
    with db.read_session(engine) as s:
        c_clips = {t.clip_id for t in service.get_participant(s, c_token).trials}
    assert len(c_clips) == 2 and not c_clips & a_clips


def test_csv_is_safe_against_formula_injection(tmp_path, stimuli_dir):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    sid = load_manifest(engine, write_study(stimuli_dir, n_clips=6, trials=2, name="inject"))
    evil = ['=HYPERLINK("http://evil.example","click")', "+1+1", "-2+3", "@SUM(A1)", "\tx"]
    for i, pid in enumerate(evil):
        with db.write_session(engine) as s:
            tok = service.create_participant(s, sid, external_id=pid, external_study_id="=1+1").token
        rate_all(engine, tok, random.Random(i))
    with db.read_session(engine) as s:
        df = service.export_ratings(s, sid)
    out = tmp_path / "r.csv"
    service.write_export(df, str(out))
    back = pd.read_csv(out, keep_default_na=False)
    assert sorted(set(back["external_id"])) == sorted("'" + e for e in evil)
    assert set(back["external_study_id"]) == {"'=1+1"}
    assert (back["score"] == df["score"]).all()               # numbers stay numbers
    client = TestClient(web.create_app(StudySettings(db_url="unused", admin_password="pw"), engine=engine))
    via_admin = pd.read_csv(io.StringIO(client.get(f"/admin/study/{sid}/ratings.csv", auth=("a", "pw")).text),
                            keep_default_na=False)
    assert not via_admin["external_id"].str.match(r"^[=+\-@\t]").any()
    assert export.csv_safe(pd.DataFrame({"x": ["=1", "ok", "a=b"]}))["x"].tolist() == ["'=1", "ok", "a=b"]
