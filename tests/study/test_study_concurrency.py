"""50 participants in threads submit complete sessions at once against one SQLite file."""

from __future__ import annotations

import random
import threading

from study import db, service
from study.manifest import load_manifest
from tests.study.conftest import write_study
from tests.study.helpers import mark_listened


def test_concurrent_sessions_store_every_rating_once(stimuli_dir, db_url):  # SQLite and PostgreSQL
    manifest = write_study(stimuli_dir, n_clips=6, trials=3, name="conc")
    engine = db.make_engine(db_url)
    sid = load_manifest(engine, manifest)
    n_participants = 50
    submitted: dict[tuple[str, int, str, str], int] = {}
    lock, errors = threading.Lock(), []
    barrier = threading.Barrier(n_participants)

    def participant(i: int) -> None:
        rng = random.Random(i)
        try:
            barrier.wait()
            with db.write_session(engine) as s:
                token = service.create_participant(s, sid, external_id=f"ext{i}").token
            while True:
                with db.write_session(engine) as s:
                    t = service.next_trial(s, token)
                    if t is None:
                        break
                    ratings = {it.label: {a: rng.randint(1, 5) for a in ("overall", "sync", "quality")}
                               for it in t.items}
                    tid = t.id
                mark_listened(engine, token)
                # submit twice, like an impatient double click: the second is refused (the trial is
                # completed and immutable), still one row per score
                with db.write_session(engine) as s:
                    service.submit_ratings(s, token, tid, ratings)
                try:
                    with db.write_session(engine) as s:
                        service.submit_ratings(s, token, tid, ratings)
                    raise AssertionError("a completed trial was re-rated")
                except service.TrialClosed:
                    pass
                with lock:
                    for lab, by in ratings.items():
                        for ax, sc in by.items():
                            submitted[(f"ext{i}", tid, lab, ax)] = sc
        except Exception as e:  # surfaced below
            errors.append(repr(e))

    threads = [threading.Thread(target=participant, args=(i,)) for i in range(n_participants)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    with db.read_session(engine) as s:
        df = service.export_ratings(s, sid)
    assert len(submitted) == n_participants * 3 * 9
    assert len(df) == len(submitted)                           # none lost, none duplicated
    stored = {(r.external_id, r.trial_id, r.label, r.axis): r.score for r in df.itertuples()}
    assert stored == submitted
    # balanced even under concurrency: 150 shows over 6 clips
    shows = df.drop_duplicates("trial_id").groupby("clip").size()
    assert sorted(shows.tolist()) == [25] * 6
