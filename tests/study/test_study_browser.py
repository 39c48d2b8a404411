"""Browser tests in headless Chromium (Playwright sync API) against a live uvicorn server."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sqlalchemy import func, select

from study import db, web
from study.manifest import load_manifest
from study.settings import StudySettings
from tests.study.conftest import SYSTEMS, ServerThread, write_study

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]
AXES = ("overall", "sync", "quality")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.skip("chromium is not installed at /usr/bin/chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def live_study(tmp_path):
    """A 2-trial study (3 clips of 3 s) served on a free loopback port."""
    root = tmp_path / "stim"
    manifest = write_study(root, n_clips=3, trials=2, duration=3.0, name="browserstudy",
                           extra={"min_listen_s": 0.5})
    url = f"sqlite:///{tmp_path / 'b.db'}"
    engine = db.make_engine(url)
    load_manifest(engine, manifest)
    settings = StudySettings(db_url=url, admin_password="pw")
    srv = ServerThread(web.create_app(settings, engine=engine))
    yield {"srv": srv, "url": url, "engine": engine, "root": root, "settings": settings}
    srv.stop()


def start(page, base: str, pid: str) -> None:
    page.goto(f"{base}/study?PROLIFIC_PID={pid}&STUDY_ID=s1&SESSION_ID=x1")
    page.check("#agree")
    page.click("#consent-submit")
    page.click("#volume-play")
    page.check("#volume-ok")
    page.click("#instructions-continue")


def play_and_rate(page, rng: random.Random, partial_only: bool = False, fresh: bool = True) -> tuple[str, dict]:
    """Play every track of the current trial, rate all of them; return (trial_id, ratings).
    `fresh`: no track of this trial was played before (a resumed trial keeps its credited play)."""
    page.wait_for_selector("#trial[data-ready='1']", timeout=20000)
    labels = page.evaluate("studyPlayer.tracks.map(t => t.label)")
    assert labels == ["A", "B", "C"]
    # a track cannot be rated before it was played, and Next waits for all nine scores
    assert page.is_disabled("input[name='r-B-overall'][value='3']") or not fresh
    assert page.is_disabled("#next")
    page.click("#play")
    for lab in labels:
        page.click(f"#select-{lab}")
        # the scale unlocks once the server has credited this track with min_listen_s of play
        page.wait_for_function(f"() => !document.querySelector(\"input[name='r-{lab}-overall']\").disabled", timeout=8000)
    page.keyboard.press("Space")  # pause from the keyboard
    page.wait_for_function("() => !studyPlayer.playing", timeout=3000)
    trial_id = page.evaluate("fetch(document.querySelector('#trial').dataset.stateUrl)"
                             ".then(r => r.json()).then(s => s.trial.trial_id)")
    ratings = {}
    for lab in labels:
        for ax in AXES:
            if partial_only and (lab, ax) != ("A", "overall"):
                continue
            v = rng.randint(1, 5)
            ratings.setdefault(lab, {})[ax] = v
            page.check(f"input[name='r-{lab}-{ax}'][value='{v}']")
            if lab != "C" or ax != "quality":
                assert page.is_disabled("#next") or partial_only
    return trial_id, ratings


def click_next(page, last: bool) -> None:
    """Complete the trial with Next: the next trial is shown in place, from the save's answer (no
    page load: a mark left on the window survives); after the last one, the end page loads."""
    if last:
        with page.expect_navigation():
            page.click("#next")
        return
    before = page.inner_text("#progress")
    page.evaluate("window.sameDocument = true")
    page.click("#next")
    page.wait_for_function("b => document.querySelector('#progress').textContent !== b "
                           "&& document.querySelector('#trial').dataset.ready === '1'", arg=before, timeout=20000)
    assert page.evaluate("window.sameDocument === true")


def stored(engine, pid: str) -> dict:
    with db.read_session(engine) as s:
        rows = s.execute(select(db.Trial.public_id, db.Rating.label, db.Rating.axis, db.Rating.score)
                         .join(db.Rating, db.Rating.trial_id == db.Trial.id)
                         .join(db.Participant, db.Trial.participant_id == db.Participant.id)
                         .where(db.Participant.external_id == pid)).all()
    return {(t, lab, ax): sc for t, lab, ax, sc in rows}


def test_participant_completes_study_and_resumes_after_restart(browser, live_study):
    srv, engine = live_study["srv"], live_study["engine"]
    ctx = browser.new_context()
    page = ctx.new_page()
    rng = random.Random(7)
    start(page, srv.url, "PID42")
    submitted = {}
    # trial 1: one score given, then the server restarts and the tab is reopened
    tid1, part = play_and_rate(page, rng, partial_only=True)
    page.wait_for_timeout(300)
    page.close()
    srv.stop()
    engine.dispose()
    engine2 = db.make_engine(live_study["url"])
    srv2 = ServerThread(web.create_app(live_study["settings"], engine=engine2))
    try:
        # a new tab on the study link: the cookie (host-scoped, any port) resumes the session
        page = ctx.new_page()
        page.goto(f"{srv2.url}/study?PROLIFIC_PID=PID42")
        page.wait_for_selector("#trial[data-ready='1']", timeout=20000)
        assert page.evaluate("fetch(document.querySelector('#trial').dataset.stateUrl).then(r => r.json())"
                             ".then(s => s.trial.trial_id)") == tid1
        assert page.is_checked(f"input[name='r-A-overall'][value='{part['A']['overall']}']")
        for i in range(2):
            tid, ratings = play_and_rate(page, rng, fresh=i > 0)
            assert not page.is_disabled("#next")
            click_next(page, last=i == 1)
            submitted.update({(tid, lab, ax): v for lab, by in ratings.items() for ax, v in by.items()})
        page.wait_for_selector("#completion-code", timeout=10000)
        code = page.inner_text("#completion-code").strip()
        assert len(code) == 8
        # the database holds exactly the submitted ratings
        assert stored(engine2, "PID42") == submitted
        with db.read_session(engine2) as s:
            p = s.scalars(select(db.Participant).where(db.Participant.external_id == "PID42")).one()
            assert (p.completion_code, p.external_study_id, p.external_session_id) == (code, "s1", "x1")
        # a reload after the end shows the code again
        page.goto(f"{srv2.url}/study")
        assert page.inner_text("#completion-code").strip() == code
    finally:
        srv2.stop()
        ctx.close()


def test_reports_stop_once_the_server_credits_a_track(browser, live_study):
    """The page reports a track only until the server has credited min_listen_s (0.5 s here),
    and then only when that credit can be complete: one "beat" (the first report of a play
    segment says it `started` one), an "end" for a segment paused before the credit (credit is
    never lost), then a beat for what is still missing; a credited track played again, also
    after a reload, sends no report at all. Credited time stays near the minimum."""
    page = browser.new_page()
    sent = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data)) if r.url.endswith("/listen") else None)
    start(page, live_study["srv"].url, "QUIET1")
    page.wait_for_selector("#trial[data-ready='1']", timeout=20000)
    # the page carries the trial's state: the same as the state URL answers
    embedded = page.evaluate("JSON.parse(document.getElementById('trial-state').textContent)")
    assert embedded["trial"]["tracks"] and embedded == page.evaluate(
        "fetch(document.querySelector('#trial').dataset.stateUrl).then(r => r.json())")

    def unlocked(lab):
        return f"() => !document.querySelector(\"input[name='r-{lab}-overall']\").disabled"

    def kinds(lab):
        return [m["kind"] for m in sent if m["label"] == lab]

    def starts(lab):
        return [m.get("started", False) for m in sent if m["label"] == lab]

    def listened():
        return page.evaluate("fetch(document.querySelector('#trial').dataset.stateUrl)"
                             ".then(r => r.json()).then(s => s.trial.listened)")

    # A plays until credited, then 2 s more: one beat, when the credit could be complete
    page.evaluate("studyPlayer.play()")
    page.wait_for_function(unlocked("A"), timeout=8000)
    page.wait_for_timeout(2000)
    assert kinds("A") == ["beat"] and starts("A") == [True], sent
    # B plays 0.3 s and is paused before its credit: its "end" report carries those 0.3 s
    page.evaluate("studyPlayer.pause(); studyPlayer.select('B')")
    page.evaluate("studyPlayer.play()")
    page.wait_for_timeout(300)
    page.evaluate("studyPlayer.pause()")
    page.wait_for_timeout(300)
    assert kinds("B") == ["end"] and starts("B") == [True], sent
    assert 0.1 < listened()["B"] < 0.5 and page.is_disabled("input[name='r-B-overall'][value='3']")
    # played again, B is reported until its credit completes; then switching to the credited A
    # sends nothing (no "end" for B, no "play" for A), and C is reported until credited
    page.evaluate("studyPlayer.play()")
    page.wait_for_function(unlocked("B"), timeout=8000)
    page.wait_for_timeout(300)
    page.evaluate("studyPlayer.select('A')")
    page.wait_for_timeout(1300)
    assert kinds("A") == ["beat"] and kinds("B") == ["end", "beat"] and starts("B") == [True, True], sent
    page.evaluate("studyPlayer.select('C')")
    page.wait_for_function(unlocked("C"), timeout=8000)
    page.wait_for_timeout(1300)
    assert kinds("C") == ["beat"] and starts("C") == [True], sent
    got = listened()
    assert all(0.5 <= v < 0.5 + 1.3 for v in got.values()), got
    # after a reload every track is credited: the page sends no report at all
    page.evaluate("studyPlayer.pause()")
    n = len(sent)
    page.reload()
    page.wait_for_selector("#trial[data-ready='1']", timeout=20000)
    for lab in "ABC":
        assert not page.is_disabled(f"input[name='r-{lab}-overall'][value='3']")
    page.evaluate("studyPlayer.play()")
    for lab in "BCA":
        page.wait_for_timeout(700)
        page.evaluate(f"studyPlayer.select('{lab}')")
    page.wait_for_timeout(1200)
    page.evaluate("studyPlayer.pause()")
    assert len(sent) == n, sent[n:]
    assert listened() == got
    page.close()


def test_switching_keeps_video_on_the_audio_clock(browser, live_study):
    page = browser.new_page()
    start(page, live_study["srv"].url, "SYNC1")
    page.wait_for_selector("#trial[data-ready='1']", timeout=20000)
    page.click("#play")
    page.wait_for_timeout(400)  # let playback settle
    rng = random.Random(3)
    labels = ["A", "B", "C"]
    results = []
    for i in range(12):  # crosses the 3 s loop point
        page.wait_for_timeout(rng.randint(80, 450))
        target = labels[(labels.index(page.evaluate("studyPlayer.active")) + rng.randint(1, 2)) % 3]
        r = page.evaluate("""async (label) => {
            const p = window.studyPlayer;
            const L = p.length;
            const a0 = p.audioPosition(), w0 = performance.now();
            p.select(label);
            const d0 = p.audioPosition() - p.videoTime();
            await new Promise(r => setTimeout(r, 60));
            const a1 = p.audioPosition(), w1 = performance.now(), v1 = p.videoTime();
            const adv = ((a1 - a0) % L + L) % L;
            const wrap = (d) => { d = ((d % L) + L) % L; return d > L / 2 ? d - L : d; };
            return {drift0: wrap(d0), drift1: wrap(a1 - v1), jump: adv - (w1 - w0) / 1000,
                    active: p.active, playing: p.playing};
        }""", target)
        results.append(r)
        assert r["active"] == target and r["playing"]
    bad = [r for r in results if abs(r["drift0"]) >= 0.040 or abs(r["drift1"]) >= 0.040 or abs(r["jump"]) >= 0.030]
    assert not bad, (bad, results)
    # the inactive tracks are silent, the active one at full gain after the crossfade
    gains = page.evaluate("Object.fromEntries(Object.entries(studyPlayer.gains).map(([k, g]) => [k, g.gain.value]))")
    assert gains[results[-1]["active"]] == pytest.approx(1.0) and sorted(gains.values())[:2] == [0, 0]
    page.close()


def test_nothing_names_a_system_or_file(browser, live_study):
    root: Path = live_study["root"]
    secrets_ = set(SYSTEMS) | {p.name for p in root.iterdir()} | {p.stem for p in root.iterdir()}
    secrets_ -= {"manifest.yaml", "manifest"}
    seen: list[tuple[str, bytes]] = []
    page = browser.new_page()

    def on_response(resp):
        try:
            body = resp.body()
        except Exception:  # redirects have no body
            body = b""
        headers = " ".join(f"{k}: {v}" for k, v in resp.headers.items())
        seen.append((resp.url + " " + headers, body))

    page.on("response", on_response)
    start(page, live_study["srv"].url, "BLIND1")
    rng = random.Random(1)
    for i in range(2):
        play_and_rate(page, rng)
        click_next(page, last=i == 1)
    page.wait_for_selector("#completion-code", timeout=10000)
    state = page.evaluate("JSON.stringify(performance.getEntries().map(e => e.name))")
    page.close()
    kinds = {u.split(" ")[0].split("?")[0].rsplit("/", 2)[-2] for u, _ in seen}
    assert "media" in kinds and len(seen) > 15
    for url_headers, body in seen:
        text = url_headers + "\n" + body.decode("latin-1")
        for s in secrets_:
            assert s not in text, f"{s!r} leaked in {url_headers[:120]}"
    for s in secrets_:
        assert s not in state


def test_imported_systems_from_mixed_formats_run_in_the_browser(browser, tmp_path):
    """MMAudio (m4a, one mp4), FoleyCrafter (16 kHz flac) and ours (wav, one track 1.5 s too long)
    imported with `python -m study import`, then a whole study in Chromium."""
    import soundfile

    from study import media
    from study.__main__ import main
    from tests.study.helpers import make_compare_folders
    videos, folders = make_compare_folders(tmp_path / "in")
    url = f"sqlite:///{tmp_path / 'cmp.db'}"
    assert main(["import", "--name", "compare", "--videos", str(videos), "--out", str(tmp_path / "study"),
                 "--trials", "3", "--min-listen", "0.5", "--create", "--db", url]
                + [f"--system={s}={f}" for s, f in folders.items()]) == 0
    engine = db.make_engine(url)
    srv = ServerThread(web.create_app(StudySettings(db_url=url), engine=engine))
    got = []
    page = browser.new_page()
    page.on("response", lambda r: got.append((r.url, r.status, r.headers, r.body() if "/media/" in r.url else b"")))
    try:
        start(page, srv.url, "IMPORT1")
        rng = random.Random(2)
        for i in range(3):
            play_and_rate(page, rng)
            click_next(page, last=i == 2)
        page.wait_for_selector("#completion-code", timeout=10000)
    finally:
        page.close()
        srv.stop()
    tracks = [(u, b) for u, st, h, b in got if h.get("content-type") == "audio/wav"]
    videos_ = [b for u, st, h, b in got if h.get("content-type") == "video/mp4" and st == 200]
    assert {h.get("content-type") for u, st, h, b in got if "/media/" in u} <= {"audio/wav", "video/mp4"}
    assert len(tracks) == 9 and len({len(b) for _, b in tracks}) == 1   # 3 clips of 2 s: one size
    for i, body in enumerate(videos_):
        (tmp_path / f"v{i}.mp4").write_bytes(body)
        assert media.probe(tmp_path / f"v{i}.mp4")["audio"] == []
    lufs = []
    with db.read_session(engine) as s:
        for t in s.scalars(select(db.Track)):
            wave, sr = soundfile.read(t.audio_path, always_2d=True)
            lufs.append(media.integrated_loudness(wave, sr))
        n_scores = s.scalar(select(func.count()).select_from(db.Rating))
    assert len(lufs) == 9 and max(abs(v + 23.0) for v in lufs) < 1.0, lufs
    assert n_scores == 27
    print(f"\nimported study in the browser: 9 tracks, loudness {min(lufs):.2f}..{max(lufs):.2f} LUFS (target -23)")
