"""Scripted participants over HTTP while the server process is SIGKILLed and restarted:
every acknowledged score is stored once, nothing is lost or duplicated, everyone finishes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time

import httpx
import pytest
from sqlalchemy import select

from study import db, service
from study.manifest import load_manifest
from tests.study.conftest import free_port, write_study
from tests.study.helpers import HttpParticipant

pytestmark = pytest.mark.slow
AXES = ("overall", "sync", "quality")


def start_server(url: str, port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "study", "serve", "--db", url, "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    while time.time() - t0 < 300:   # a loaded 2-core machine can take minutes to import the stack
        try:
            httpx.get(f"http://127.0.0.1:{port}/study", timeout=2)
            return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("study server did not start")


def run_participant(base: str, i: int, submitted: dict, errors: list) -> None:
    """Go through the study, retrying any step a dead server interrupted (the same PROLIFIC_PID
    resumes); each trial's scores are fixed, so a retried submission is the same submission."""
    rng = random.Random(i)
    p = HttpParticipant(base, pid=f"KILL{i}")
    deadline = time.time() + 900
    while time.time() < deadline:
        try:
            if p.token is None:
                p.join()
            state = p.state()
            if state["done"]:
                p.close()
                return
            trial = state["trial"]
            p.fetch_media(trial)
            p.listen(trial, 0.15)
            ratings = submitted.setdefault((p.pid, trial["trial_id"]), {
                t["label"]: {a: rng.randint(1, 5) for a in AXES} for t in trial["tracks"]})
            r = p.rate(trial, ratings)
            if r.status_code not in (200, 409):   # 409: the trial is completed (by a lost answer) or not yet heard
                errors.append((p.pid, r.status_code, r.text[:200]))
        except (httpx.HTTPError, AssertionError, AttributeError):
            time.sleep(0.3)
    errors.append((p.pid, "timeout"))


def test_no_score_lost_or_duplicated_when_the_server_is_killed(tmp_path):
    manifest = write_study(tmp_path / "stim", n_clips=6, trials=3, duration=1.0, name="kill",
                           extra={"min_listen_s": 0.1})
    url = f"sqlite:///{tmp_path / 'kill.db'}"
    engine = db.make_engine(url)
    sid = load_manifest(engine, manifest)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_server(url, port)
    submitted, errors, n = {}, [], 8
    threads = [threading.Thread(target=run_participant, args=(base, i, submitted, errors)) for i in range(n)]
    for t in threads:
        t.start()
    kills = 0
    try:
        for _ in range(3):
            time.sleep(2.5)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            time.sleep(0.5)
            proc = start_server(url, port)
        for t in threads:
            t.join(960)
    finally:
        proc.kill()
        proc.wait()
    assert kills == 3 and not errors, errors
    with db.read_session(engine) as s:
        df = service.export_ratings(s, sid)
        public = dict(s.execute(select(db.Trial.id, db.Trial.public_id)).all())
        done = s.scalars(select(db.Participant.completed_at).where(db.Participant.study_id == sid)).all()
    stored = {(r.external_id, public[r.trial_id], r.label, r.axis): r.score for r in df.itertuples()}
    expected = {(pid, tid, lab, ax): v for (pid, tid), by in submitted.items() for lab, axes in by.items()
                for ax, v in axes.items()}
    assert len(done) == n and all(done)                      # everyone finished, one participant per PID
    assert not df.duplicated(["trial_id", "label", "axis"]).any()
    assert len(df) == n * 3 * 9 and stored == expected       # 0 lost, 0 duplicated, 0 changed
    print(f"\nkill test: {n} participants, {kills} SIGKILLs, {len(df)} scores stored of {len(expected)} submitted")
