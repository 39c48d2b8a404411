"""Two uvicorn worker processes on one PostgreSQL database (`python -m study serve --workers 2`):
participants who speak like the page, over real HTTP, get a balanced design, resume on the
right trial in a new browser, and every acknowledged score is stored exactly once, whichever
worker answered; a SIGKILL of the whole server mid-run loses and duplicates nothing."""

from __future__ import annotations

import asyncio
import collections
import re
import time

import pytest
from sqlalchemy import create_engine, text

from study import db
from study.manifest import load_manifest
from tests.study.conftest import write_study
from tests.study.page_client import Pace, Recorder, Server, participant, verify

N = 12


def _study(stimuli_dir, db_url: str) -> None:
    manifest = write_study(stimuli_dir, n_clips=6, trials=2, name="workers", extra={"min_listen_s": 0.3})
    engine = db.make_engine(db_url)
    load_manifest(engine, manifest)
    engine.dispose()


def _run(base: str, pids: list[str], pace: Pace, rec: Recorder, max_trials: int | None = None) -> None:
    async def main():
        await asyncio.gather(*(participant(base, pid, pace, rec, seed=i, max_trials=max_trials)
                               for i, pid in enumerate(pids)))
    asyncio.run(main())


def _trials(url: str) -> list[tuple]:
    engine = create_engine(db.normalize_url(url))
    with engine.connect() as c:
        rows = c.execute(text(
            'SELECT p.external_id, t."order", t.clip_id, t.is_attention, t.completed_at IS NOT NULL '
            'FROM trial t JOIN participant p ON t.participant_id = p.id ORDER BY p.external_id, t."order"')).all()
    engine.dispose()
    return rows


@pytest.mark.slow
def test_two_workers_balance_resume_exactly_once(pg_server, stimuli_dir):
    url = pg_server.create_database("workers")
    _study(stimuli_dir, url)
    server = Server(url, workers=2)
    server.start()
    try:
        pids = [f"W{i:02d}" for i in range(N)]
        pace = Pace(think_s=0.0, beat_s=0.35)
        rec = Recorder()
        _run(server.base, pids, pace, rec, max_trials=1)          # every participant does trial 1
        assert not rec.errors, rec.first_errors
        first = {pid: tid for pid, tid in rec.completed}
        assert len(first) == N
        _run(server.base, pids, pace, rec)                        # a new browser each: resume, finish
        assert not rec.errors, rec.first_errors
        assert rec.finished == N

        # both workers answered: each holds database connections named after its pid
        with create_engine(db.normalize_url(url)).connect() as c:
            names = c.execute(text("SELECT DISTINCT application_name FROM pg_stat_activity "
                                   "WHERE application_name LIKE 'salsav-study:%'")).scalars().all()
        assert len(names) >= 2, names
    finally:
        server.kill()

    check = verify(url, rec, set(pids))
    assert check["lost"] == 0 and check["duplicated"] == 0 and check["completed_lost"] == 0, check
    assert check["stored"] == check["acked"] == N * 2 * 9
    rows = _trials(url)
    assert len(rows) == N * 2 and all(done for *_, done in rows)
    # resume: the second run went on from each participant's second trial, not a new participant
    per = collections.defaultdict(list)
    for ext, order, clip, _att, _done in rows:
        per[ext].append(order)
    assert all(orders == [0, 1] for orders in per.values()) and len(per) == N
    assert sum(1 for pid, tid in rec.completed if first[pid] != tid) == N
    # balance across workers: 24 trials over 6 clips, 4 each
    shows = collections.Counter(clip for _e, _o, clip, att, _d in rows if not att)
    assert sorted(shows.values()) == [4] * 6, shows


@pytest.mark.slow
def test_server_killed_mid_run_loses_nothing(pg_server, stimuli_dir):
    url = pg_server.create_database("killed")
    _study(stimuli_dir, url)
    server = Server(url, workers=2)
    server.start()
    pids = [f"K{i:02d}" for i in range(8)]
    rec = Recorder()
    pace = Pace(think_s=0.05, beat_s=0.35, retry_s=180.0)

    async def main():
        async def kill_later():
            while len(rec.acked) < 40:                            # mid-run: some scores saved
                await asyncio.sleep(0.05)
            await asyncio.to_thread(server.kill)
            await asyncio.to_thread(server.start)
        await asyncio.gather(kill_later(), *(participant(server.base, pid, pace, rec, seed=i)
                                             for i, pid in enumerate(pids)))
    try:
        asyncio.run(main())
    finally:
        server.kill()
    assert rec.retries > 0                                        # the kill was felt
    assert not rec.errors, rec.first_errors
    assert rec.finished == len(pids)
    check = verify(url, rec, set(pids))
    assert check["lost"] == 0 and check["duplicated"] == 0 and check["completed_lost"] == 0, check
    assert check["stored"] == len(pids) * 2 * 9
    assert not [r for r in _trials(url) if not re.match(r"K\d\d", r[0])]


def test_sqlite_checkpoints_run_off_the_request_path(tmp_path):
    """Served SQLite: connections never checkpoint at commit, a background thread does."""
    from sqlalchemy import text as sql

    from study.serving import WalCheckpointer
    engine = db.make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    cp = WalCheckpointer(engine, every_s=0.05)
    cp.start()
    with engine.connect() as c:
        assert c.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        assert c.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    for i in range(100):
        with db.write_connection(engine) as c:
            c.execute(sql("UPDATE study_schema SET version = :v"), {"v": 100 + i})
    t0 = time.time()
    while (cp.last is None or cp.last[1] != cp.last[2] or cp.last[1] == 0) and time.time() - t0 < 10:
        time.sleep(0.05)
    busy, log, done = cp.last
    assert busy == 0 and log > 0 and done == log     # every WAL frame copied back by the thread
    assert cp.runs >= 1
    engine.dispose()
