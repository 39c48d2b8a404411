"""Load test of the study server: N concurrent simulated participants over HTTP.

    python benchmarks/study_load.py                     # starts `python -m study serve` on loopback
    python benchmarks/study_load.py --url http://127.0.0.1:7860 --db sqlite:///study.db --study NAME

Each participant joins through the JSON API, fetches each trial's state and submits its
nine scores. Prints ratings per second, p50/p95 submit latency and lost / duplicate rows
(counted from the database after the run) for N = 10, 50, 100.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_study(tmp: Path, n_clips: int = 10, trials: int = 5) -> tuple[str, str]:
    from tests.study.conftest import write_study

    from study import db
    from study.manifest import load_manifest
    manifest = write_study(tmp / "stim", n_clips=n_clips, trials=trials, duration=2.0, name="load")
    url = f"sqlite:///{tmp / 'load.db'}"
    load_manifest(db.make_engine(url), manifest)
    return url, "load"


def participant(base: str, study: str, i: int, lat: list, submitted: dict, errors: list, lock, barrier):
    rng = random.Random(i)
    try:
        with httpx.Client(base_url=base, timeout=60) as c:
            barrier.wait()
            token = c.post("/study/api/participants", json={"study": study, "external_id": f"load{i}"}).json()["token"]
            state = c.get(f"/study/api/{token}/state").json()
            while not state["done"]:
                t = state["trial"]
                axes = [a["key"] for a in state["config"]["axes"]]
                ratings = {tr["label"]: {a: rng.randint(1, 5) for a in axes} for tr in t["tracks"]}
                t0 = time.perf_counter()
                r = c.post(f"/study/api/{token}/trials/{t['trial_id']}/ratings",
                           json={"ratings": ratings, "complete": True})
                dt = time.perf_counter() - t0
                r.raise_for_status()
                state = r.json()
                with lock:
                    lat.append(dt)
                    for lab, by in ratings.items():
                        for ax, sc in by.items():
                            submitted[(f"load{i}", t["trial_id"], lab, ax)] = sc
    except Exception as e:
        errors.append(repr(e))


def run(base: str, db_url: str, study: str, n: int) -> dict:
    from study import db, service
    lat, submitted, errors, lock = [], {}, [], threading.Lock()
    barrier = threading.Barrier(n)
    threads = [threading.Thread(target=participant, args=(base, study, i + run.offset, lat, submitted,
                                                          errors, lock, barrier)) for i in range(n)]
    run.offset += n
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    engine = db.make_engine(db_url, create=False)
    with db.read_session(engine) as s:
        df = service.export_ratings(s, study)
    engine.dispose()
    df = df[df["external_id"].isin({k[0] for k in submitted})]
    keys = list(zip(df["external_id"], df["trial_id"], df["label"], df["axis"]))
    stored = dict(zip(keys, df["score"]))
    lost = sum(1 for k, v in submitted.items() if stored.get(k) != v)
    dup = len(keys) - len(set(keys))
    return {"n": n, "ratings": len(submitted), "wall_s": wall, "ratings_per_s": len(submitted) / wall,
            "p50_ms": 1000 * float(np.percentile(lat, 50)) if lat else float("nan"),
            "p95_ms": 1000 * float(np.percentile(lat, 95)) if lat else float("nan"),
            "lost": lost, "duplicates": dup, "errors": len(errors), "first_error": errors[0] if errors else ""}


run.offset = 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default=None, help="a running server (default: start one on loopback)")
    ap.add_argument("--db", default=None, help="its SQLAlchemy URL (needed with --url to count rows)")
    ap.add_argument("--study", default=None)
    ap.add_argument("--n", default="10,50,100")
    a = ap.parse_args()
    proc = None
    tmp = tempfile.TemporaryDirectory()
    try:
        if a.url:
            if not a.db or not a.study:
                ap.error("--url needs --db and --study")
            base, db_url, study = a.url, a.db, a.study
        else:
            db_url, study = make_study(Path(tmp.name))
            from tests.study.conftest import free_port
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "study", "serve", "--db", db_url, "--port", str(port)],
                                    cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(base + "/study", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
        print(f"server {base}  db {db_url}")
        print(f"{'N':>5} {'ratings':>8} {'wall s':>7} {'ratings/s':>10} {'p50 ms':>8} {'p95 ms':>8} {'lost':>5} {'dup':>4} {'err':>4}")
        bad = 0
        for n in [int(x) for x in a.n.split(",")]:
            r = run(base, db_url, study, n)
            print(f"{r['n']:>5} {r['ratings']:>8} {r['wall_s']:>7.2f} {r['ratings_per_s']:>10.1f} "
                  f"{r['p50_ms']:>8.1f} {r['p95_ms']:>8.1f} {r['lost']:>5} {r['duplicates']:>4} {r['errors']:>4}"
                  + (f"  {r['first_error']}" if r["errors"] else ""))
            bad += r["lost"] + r["duplicates"] + r["errors"]
        return 1 if bad else 0
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(10)
        tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
