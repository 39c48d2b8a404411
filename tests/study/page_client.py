"""Participants that speak to the study server the way its pages do (asyncio, over http_client.py).

One `participant()` is one browser: the landing and consent form, the instructions, then per
trial its state (the page carries the first one; the final save answers the next, which the page
shows in place), the video and every track (the media fetches), play reports as trial.js sends
them while a track plays until the server has credited its minimum listening time (one "beat"
when the credit can be complete, marked `started`, and another only if the answer falls short or
more than `beat_s` is missing; these participants never pause early, so they never send "end"),
one save per click and the final save ("Next"), and after the last trial the end page, over one
keep-alive connection (http_client.py: a light client, so the load generator leaves the CPU to
the server). `Pace` sets the human part: the mean time between actions (0 = as fast as the
server answers) with jitter.

Every answer is timed per endpoint into a `Recorder`, with the scores the server acknowledged;
`verify()` then compares them with the database (lost, changed, duplicated). With
`retry_s > 0` a request that meets a dead server (connection refused or reset, 5xx) is retried
until the server is back, as a participant would reload; a final save answered "already
completed" after such a retry counts as saved when the page has moved on.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from tests.study.http_client import HttpClient, Response, Unreachable

_STUDY_ID = re.compile(r'name="study_id" value="(\d+)"')
_TOKEN = re.compile(r"/p/([A-Za-z0-9_-]+)$")
_STATE = re.compile(r'<script type="application/json" id="trial-state">(.*?)</script>', re.S)
STATIC = ("study.css", "player.js", "trial.js")
ROOT = Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Pace:
    think_s: float = 2.0     # mean seconds between a participant's actions (0: hammer)
    jitter: float = 0.5      # each wait is think_s * uniform(1 - jitter, 1 + jitter)
    beat_s: float = 4.0      # while a track plays, at most this long between reports (trial.js: 4 s)
    margin_s: float = 0.1    # a report goes this long after the credit could be complete (trial.js)
    retry_s: float = 0.0     # keep retrying a dead server this long (0: a failure is an error)

    def wait(self, rng: random.Random) -> float:
        return self.think_s * rng.uniform(1 - self.jitter, 1 + self.jitter) if self.think_s > 0 else 0.0


@dataclasses.dataclass
class Recorder:
    """Latencies per endpoint and what the server acknowledged, shared by all participants."""
    lat: dict = dataclasses.field(default_factory=lambda: collections.defaultdict(list))
    acked: dict = dataclasses.field(default_factory=dict)      # (pid, trial, label, axis) -> score
    completed: set = dataclasses.field(default_factory=set)    # (pid, trial)
    errors: collections.Counter = dataclasses.field(default_factory=collections.Counter)
    first_errors: list = dataclasses.field(default_factory=list)
    retries: int = 0
    finished: int = 0                                          # participants with a completion code
    stopped: bool = False                                      # the run's time is up: stop, record no more
    acked_at_stop: int | None = None                           # len(acked) when it stopped
    steady_from: float | None = None                           # perf_counter when all have arrived
    steady: dict = dataclasses.field(default_factory=lambda: collections.defaultdict(list))

    def error(self, what: str) -> None:
        self.errors[what.split(":")[0]] += 1
        if len(self.first_errors) < 5:
            self.first_errors.append(what)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ParticipantError(RuntimeError):
    pass


class _Dead(Exception):
    """The server did not answer (killed, restarting)."""


class Browser:
    def __init__(self, client: HttpClient, rec: Recorder, pace: Pace):
        self.c, self.rec, self.pace = client, rec, pace

    async def call(self, name: str, method: str, url: str, ok=(200, 206, 303), **kw) -> Response:
        t_end = time.monotonic() + self.pace.retry_s
        retried = False
        while True:
            if self.rec.stopped:  # a cancellation can be lost when an answer arrives at the same time
                raise asyncio.CancelledError
            t0 = time.perf_counter()
            try:
                r = await self.c.request(method, url, **kw)
                if r.status_code >= 500:
                    raise _Dead(f"{r.status_code}")
            except (Unreachable, _Dead) as e:
                if time.monotonic() < t_end:
                    self.rec.retries += 1
                    retried = True
                    await asyncio.sleep(0.2)
                    continue
                raise ParticipantError(f"{name}: {type(e).__name__} {e}") from None
            if not self.rec.stopped:
                self.rec.lat[name].append(time.perf_counter() - t0)
                if self.rec.steady_from is not None and t0 >= self.rec.steady_from:
                    self.rec.steady[name].append(time.perf_counter() - t0)
            if r.status_code not in ok:
                if retried and name == "save_final":
                    r.extensions["after_retry"] = True
                    return r
                raise ParticipantError(f"{name}: HTTP {r.status_code} {r.text[:120]}")
            return r


async def _listen(b: Browser, api: str, label: str, need: float, credited: float) -> None:
    """Play one track as trial.js reports it: nothing if the server already credited `need`
    seconds (or `need` is 0); else a "beat" when the credit can be complete (the seconds still
    missing plus margin_s, at most beat_s later), the first one `started`, until an answer shows
    the credit, and no more (trial.js closes a credited track's segment without a report)."""
    if need <= 0 or credited >= need - 1e-6:
        return
    url, pace = f"{api}/listen", b.pace
    last, started = time.monotonic(), True
    while credited < need - 1e-6:
        due = max(0.25, min(pace.beat_s, need - credited + pace.margin_s)) - (time.monotonic() - last)
        await asyncio.sleep(max(0.0, due))
        now = time.monotonic()
        body = {"kind": "beat", "label": label, "seconds": round(min(now - last, 60.0), 3)}
        if started:
            body["started"] = True
        r = await b.call("listen", "POST", url, json=body)
        last, started, credited = now, False, float(r.json()["listened"].get(label, 0.0))


def page_state(html: str) -> dict | None:
    """The state a trial page carries (trial.js reads it); None for another page."""
    m = _STATE.search(html)
    return json.loads(m.group(1)) if m else None


async def participant(base: str, pid: str, pace: Pace, rec: Recorder, seed: int = 0,
                      study: str | None = None, max_trials: int | None = None) -> None:
    """One participant from the study link to the completion code (or `max_trials` trials)."""
    rng = random.Random(seed)
    async with HttpClient(base, timeout=60) as c:
        b = Browser(c, rec, pace)
        try:
            await _session(b, pid, rng, study, max_trials)
        except ParticipantError as e:
            rec.error(str(e))


async def _session(b: Browser, pid: str, rng: random.Random, study: str | None, max_trials: int | None) -> None:
    rec, pace = b.rec, b.pace
    q = {"PROLIFIC_PID": pid, "STUDY_ID": "bench", "SESSION_ID": f"s-{pid}", **({"study": study} if study else {})}
    r = await b.call("landing", "GET", "/study", params=q)
    if r.status_code == 303:                      # this PROLIFIC_PID already started: resume
        token = _TOKEN.search(r.headers["location"]).group(1)
    else:
        sid = _STUDY_ID.search(r.text).group(1)
        for name in STATIC:
            await b.call("static", "GET", f"/study/static/{name}")
        await asyncio.sleep(pace.wait(rng))
        form = {"study_id": sid, "agree": "yes", "PROLIFIC_PID": pid, "STUDY_ID": "bench", "SESSION_ID": f"s-{pid}"}
        r = await b.call("consent", "POST", "/study/consent", data=form)
        token = _TOKEN.search(r.headers["location"]).group(1)
    page = f"/study/p/{token}"
    r = await b.call("page", "GET", page)
    if 'id="trial"' not in r.text and "instructions" in r.text:
        await asyncio.sleep(pace.wait(rng))
        await b.call("instructions", "POST", page + "/instructions")
        r = await b.call("page", "GET", page)
    done_trials, st = 0, page_state(r.text)
    while max_trials is None or done_trials < max_trials:
        if st is None or st["done"]:
            if 'id="completion-code"' not in r.text:
                raise ParticipantError("page: neither a trial nor the completion code")
            rec.finished += 0 if rec.stopped else 1
            return
        t = st["trial"]
        tid, api = t["trial_id"], f"/study/api/{token}/trials/{t['trial_id']}"
        axes = [a["key"] for a in st["config"]["axes"]]
        await b.call("media_video", "GET", t["video"], headers={"Range": "bytes=0-"})
        for tr in t["tracks"]:
            await b.call("media_audio", "GET", tr["url"])
        scores = {tr["label"]: {a: rng.randint(1, 5) for a in axes} for tr in t["tracks"]}
        need = float(t.get("min_listen_s") or 0.0)
        for tr in t["tracks"]:
            lab = tr["label"]
            await _listen(b, api, lab, need, float(t.get("listened", {}).get(lab, 0.0)))
            for ax in axes:
                if t["ratings"].get(lab, {}).get(ax) == scores[lab][ax]:
                    continue
                await asyncio.sleep(pace.wait(rng))
                await b.call("save_click", "POST", f"{api}/ratings",
                             json={"ratings": {lab: {ax: scores[lab][ax]}}, "complete": False})
                rec.acked[(pid, tid, lab, ax)] = scores[lab][ax]
        await asyncio.sleep(pace.wait(rng))
        r = await b.call("save_final", "POST", f"{api}/ratings", json={"ratings": scores, "complete": True})
        if r.extensions.get("after_retry"):            # saved before the server died, answered after?
            r = await b.call("page", "GET", page)      # the participant reloads the page
            st = page_state(r.text)
            if st is not None and not st["done"] and st["trial"]["trial_id"] == tid:
                raise ParticipantError("save_final: an error after a retry, trial not saved")
        else:                                          # trial.js shows the answer's next trial in place,
            st = r.json()                              # or after the last one loads the end page
            if st["done"] or not st.get("trial"):
                r = await b.call("page", "GET", page)
                st = page_state(r.text)
        for lab, by in scores.items():
            for ax, v in by.items():
                rec.acked[(pid, tid, lab, ax)] = v
        rec.completed.add((pid, tid))
        done_trials += 1


def verify(db_url: str, rec: Recorder, pids: set[str]) -> dict:
    """Compare what the server acknowledged with the database: lost (an acknowledged score that is
    missing or different), duplicated (rows or participants that exist twice), and completed trials."""
    from study.db import normalize_url
    engine = create_engine(normalize_url(db_url))
    with engine.connect() as c:
        rows = c.execute(text(
            "SELECT p.external_id, t.public_id, r.label, r.axis, r.score, t.completed_at IS NOT NULL "
            "FROM rating r JOIN trial t ON r.trial_id = t.id JOIN participant p ON t.participant_id = p.id"))
        stored, seen, dup_rows, done = {}, collections.Counter(), 0, set()
        for ext, tid, lab, ax, score, completed in rows:
            if ext in pids:
                seen[(ext, tid, lab, ax)] += 1
                stored[(ext, tid, lab, ax)] = score
                if completed:
                    done.add((ext, tid))
        dup_rows = sum(n - 1 for n in seen.values() if n > 1)
        dup_participants = sum(n - 1 for ext, n in c.execute(text(
            "SELECT external_id, count(*) FROM participant WHERE external_id IS NOT NULL "
            "GROUP BY study_id, external_id HAVING count(*) > 1")) if ext in pids)
    engine.dispose()
    lost = sum(1 for k, v in rec.acked.items() if stored.get(k) != v)
    return {"acked": len(rec.acked), "stored": len(stored), "lost": lost, "duplicated": dup_rows + dup_participants,
            "completed_acked": len(rec.completed), "completed_lost": len(rec.completed - done)}


def percentiles(xs: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 in ms."""
    if not xs:
        return (float("nan"),) * 3
    s = sorted(xs)

    def q(p):
        return 1000 * s[min(len(s) - 1, int(round(p * (len(s) - 1))))]
    return q(0.50), q(0.95), q(0.99)


class Server:
    """`python -m study serve` on 127.0.0.1 in its own process group (so a kill takes every worker)."""

    def __init__(self, db_url: str, workers: int, port: int | None = None):
        self.db_url, self.workers, self.port = db_url, workers, port or _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 180) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "study", "serve", "--db", self.db_url, "--host", "127.0.0.1",
             "--port", str(self.port), "--workers", str(self.workers)],
            cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)
        t0 = time.time()
        while time.time() - t0 < timeout:
            if self.proc.poll() is not None:
                code, self.proc = self.proc.returncode, None
                raise RuntimeError(f"server exited with {code}")
            try:
                if httpx.get(self.base + "/study", timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError("server did not start")

    def kill(self, sig=signal.SIGKILL) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.proc = None
