"""Load test of the study server with participants that behave like its pages.

    python -m benchmarks.study_load --mode human --n 100,500,1000          # ~2 s between actions
    python -m benchmarks.study_load --mode hammer --n 100                  # as fast as it answers
    python -m benchmarks.study_load --mode hammer --n 100 --backends postgresql --workers 2 --kill-at 8

Each participant (tests/study/page_client.py) goes through the landing and consent form, the
instructions, then per trial: the page, its state, the video and the tracks, play/beat reports
until the server has credited each track's minimum listening time, one save per click and the
final save. For every backend
(SQLite file, PostgreSQL 15 started here from Debian's package, fsync on) and worker count,
a fresh copy of one prepared study is served by `python -m study serve --workers W` on
127.0.0.1 (nothing else is reached) and loaded by N participants:

- human: arrivals spread over --ramp s, each waits ~--think s (+-50 %) between actions and
  plays each track for the study's min_listen_s (the server credits only wall time); the run
  stops after --duration s, wherever the participants are;
- hammer: no waits and no listening minimum (require_play off in the study copy); the run ends
  when all N have finished (or after --duration s).

It prints p50/p95/p99 per endpoint, requests/s, saves/s and ratings/s (distinct scores
acknowledged per second), and checks the database after each run: lost (acknowledged scores
missing or different), duplicated (rows or participants twice) and errors. --kill-at S SIGKILLs
the whole server (supervisor and workers) S s into each run and restarts it; participants retry
like a reloading browser. Everything stops by itself (--max-total s for the whole benchmark).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

from study import db
from study.manifest import load_manifest
from tests.study.conftest import write_study
from tests.study.page_client import Pace, Recorder, Server, participant, percentiles, verify
from tests.study.postgres import PostgresServer

ENDPOINTS = ["landing", "static", "consent", "page", "instructions", "state", "media_video", "media_audio",
             "listen", "save_click", "save_final"]


# ----------------------------------------------------------------------------- study and servers

def prepare_study(tmp: Path, n_clips: int, trials: int) -> Path:
    """One study (2 s clips x 3 systems) loaded into a SQLite file; copies of it are served."""
    manifest = write_study(tmp / "stim", n_clips=n_clips, trials=trials, duration=2.0, name="load")
    path = tmp / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    load_manifest(engine, manifest)
    engine.dispose()
    return path


def copy_into_postgres(template: Path, url: str) -> None:
    """The template's rows into a new PostgreSQL database (schema made by make_engine)."""
    db.make_engine(url).dispose()
    src, dst = create_engine(f"sqlite:///{template}"), create_engine(db.normalize_url(url))
    with src.connect() as s, dst.begin() as d:
        d.execute(text("DELETE FROM study_schema"))
        for table in db.Base.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in s.execute(table.select())]
            if rows:
                d.execute(table.insert(), rows)
                if "id" in table.c and table.name != "study_schema":
                    d.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                   f"(SELECT max(id) FROM {table.name}))"))
    src.dispose()
    dst.dispose()


def set_mode(url: str, mode: str) -> None:
    """hammer: require_play off (no listening minimum), so the saves are what is measured."""
    engine = create_engine(db.normalize_url(url))
    with engine.begin() as c:
        sid, cfg = c.execute(text("SELECT id, config FROM study")).one()
        cfg = json.loads(cfg) if isinstance(cfg, str) else dict(cfg)
        cfg["require_play"] = mode != "hammer"
        c.execute(text("UPDATE study SET config = :c WHERE id = :i"), {"c": json.dumps(cfg), "i": sid})
    engine.dispose()


def cpu_seconds(pgid: int, postmaster: int | None) -> float:
    """CPU (user + system) used so far by the server's process group and PostgreSQL's processes."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0.0
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            f = (d / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid, pgrp = int(f[1]), int(f[2])
        if pgrp == pgid or (postmaster is not None and (int(d.name) == postmaster or ppid == postmaster)):
            total += (int(f[11]) + int(f[12])) / tick
    return total


# ----------------------------------------------------------------------------- one run

async def drive(base: str, n: int, pace: Pace, rec: Recorder, prefix: str, ramp: float,
                duration: float, server: Server | None, kill_at: float | None) -> tuple[float, int]:
    """N participants; returns (wall seconds, participants cut off by the time limit)."""
    async def one(i: int) -> None:
        await asyncio.sleep(ramp * i / max(1, n))
        await participant(base, f"{prefix}{i}", pace, rec, seed=i)

    async def killer() -> None:
        await asyncio.sleep(kill_at)
        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(server.start)

    t0 = time.perf_counter()
    rec.steady_from = t0 + ramp if ramp > 0 else None     # latencies after the last arrival, apart
    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    extra = [asyncio.create_task(killer())] if kill_at is not None and server is not None else []
    done, pending = await asyncio.wait(tasks, timeout=duration)
    wall = time.perf_counter() - t0
    rec.stopped, rec.acked_at_stop = True, len(rec.acked)
    for t in pending:
        t.cancel()
    await asyncio.gather(*pending, *extra, return_exceptions=True)
    return wall, len(pending)


def run_once(cfg: dict, n: int, a, template: Path, pg: PostgresServer | None, tmp: Path, k: int) -> dict:
    backend, workers = cfg["backend"], cfg["workers"]
    if backend == "sqlite":
        path = tmp / f"run{k}.db"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
    else:
        url = pg.create_database(f"run{k}")
        copy_into_postgres(template, url)
    set_mode(url, a.mode)
    server = Server(url, workers)
    server.start()
    human = a.mode == "human"
    pace = Pace(think_s=a.think if human else 0.0, retry_s=300.0 if a.kill_at is not None else 0.0)
    rec = Recorder()
    prefix = f"r{k}p"
    postmaster = pg.postmaster_pid() if pg is not None and backend == "postgresql" else None
    cpu0, load0, c0 = cpu_seconds(server.proc.pid, postmaster), os.getloadavg()[0], time.process_time()
    try:
        wall, cut = asyncio.run(drive(server.base, n, pace, rec, prefix, a.ramp if human else 0.0,
                                      a.duration, server, a.kill_at))
        server_cpu = cpu_seconds(server.proc.pid, postmaster) - cpu0 if server.proc else float("nan")
    finally:
        server.kill(signal.SIGTERM)
    client_cpu, load = time.process_time() - c0, (load0 + os.getloadavg()[0]) / 2
    check = verify(url, rec, {f"{prefix}{i}" for i in range(n)})
    if backend == "postgresql":
        pg.drop_database(f"run{k}")
    n_req = sum(len(v) for v in rec.lat.values())
    saves = rec.lat["save_click"] + rec.lat["save_final"]
    return {"mode": a.mode, "backend": backend, "workers": workers, "n": n, "wall_s": round(wall, 2),
            "requests_per_s": round(n_req / wall, 1), "saves_per_s": round(len(saves) / wall, 1),
            "ratings_per_s": round(rec.acked_at_stop / wall, 1), "finished": rec.finished, "cut_off": cut,
            "saves_p50_p95_p99_ms": [round(x, 1) for x in percentiles(saves)],
            "endpoints": {e: {"n": len(rec.lat[e]), "p50_p95_p99_ms": [round(x, 1) for x in percentiles(rec.lat[e])]}
                          for e in ENDPOINTS if rec.lat.get(e)},
            "all_p50_p95_p99_ms": [round(x, 1) for x in percentiles([x for v in rec.lat.values() for x in v])],
            **({"after_arrivals": _after_arrivals(rec)} if rec.steady else {}),
            "errors": sum(rec.errors.values()), "first_errors": rec.first_errors, "retries": rec.retries,
            "kill_at": a.kill_at, "server_cpu_ms_per_request": round(1000 * server_cpu / max(1, n_req), 2),
            "client_cpu_ms_per_request": round(1000 * client_cpu / max(1, n_req), 2),
            "machine_load_avg": round(load, 1), **check}


def _after_arrivals(rec: Recorder) -> dict:
    """Latencies of the requests sent once every participant had arrived (the ramp's end)."""
    saves = rec.steady["save_click"] + rec.steady["save_final"]
    every = [x for v in rec.steady.values() for x in v]
    return {"requests": len(every), "saves": len(saves),
            "saves_p50_p95_p99_ms": [round(x, 1) for x in percentiles(saves)],
            "all_p50_p95_p99_ms": [round(x, 1) for x in percentiles(every)]}


def show(r: dict) -> None:
    p = r["saves_p50_p95_p99_ms"]
    print(f"{r['mode']:>6} {r['backend']:>10} {r['workers']:>2}w N={r['n']:<5} wall {r['wall_s']:>6.1f}s "
          f"req/s {r['requests_per_s']:>7.1f} saves/s {r['saves_per_s']:>6.1f} ratings/s {r['ratings_per_s']:>7.1f} "
          f"saves p50/p95/p99 {p[0]:.0f}/{p[1]:.0f}/{p[2]:.0f} ms  lost {r['lost']} dup {r['duplicated']} "
          f"err {r['errors']} retries {r['retries']} finished {r['finished']} cut {r['cut_off']}", flush=True)
    print(f"        cpu ms/request: server {r['server_cpu_ms_per_request']} client {r['client_cpu_ms_per_request']}"
          f"  (machine load average {r['machine_load_avg']})")
    q = r["all_p50_p95_p99_ms"]
    print(f"        all requests p50/p95/p99 {q[0]:.0f}/{q[1]:.0f}/{q[2]:.0f} ms")
    if "after_arrivals" in r:
        s, q = r["after_arrivals"]["saves_p50_p95_p99_ms"], r["after_arrivals"]["all_p50_p95_p99_ms"]
        print(f"        after the last arrival ({r['after_arrivals']['requests']} requests): saves p50/p95/p99 "
              f"{s[0]:.0f}/{s[1]:.0f}/{s[2]:.0f} ms, all {q[0]:.0f}/{q[1]:.0f}/{q[2]:.0f} ms")
    for e, v in r["endpoints"].items():
        q = v["p50_p95_p99_ms"]
        print(f"        {e:>12} n={v['n']:<6} p50 {q[0]:7.1f}  p95 {q[1]:7.1f}  p99 {q[2]:7.1f} ms")
    for e in r["first_errors"]:
        print(f"        error: {e}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mode", choices=["human", "hammer"], default="human")
    ap.add_argument("--n", default="100", help="participant counts, e.g. 100,500,1000 (at most 1000)")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--duration", type=float, default=None, help="s per run (human 60, hammer 120)")
    ap.add_argument("--ramp", type=float, default=20.0, help="human: arrivals spread over this many s")
    ap.add_argument("--think", type=float, default=2.0, help="human: mean s between actions")
    ap.add_argument("--kill-at", type=float, default=None, help="SIGKILL and restart the server after S s")
    ap.add_argument("--clips", type=int, default=10)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--max-total", type=float, default=3600, help="stop the whole benchmark after S s")
    ap.add_argument("--json", default=None, help="also write the results here")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so the servers and PostgreSQL are stopped
    a.duration = a.duration or (60.0 if a.mode == "human" else 120.0)
    ns = [int(x) for x in a.n.split(",")]
    if max(ns) > 1000:
        ap.error("--n: at most 1000 participants")
    configs = [{"backend": b, "workers": int(w)} for b in a.backends.split(",") for w in a.workers.split(",")]
    t_start, results, pg = time.time(), [], None
    with tempfile.TemporaryDirectory(prefix="salsav-load-") as tmpd:
        tmp = Path(tmpd)
        try:
            template = prepare_study(tmp, a.clips, a.trials)
            if any(c["backend"] == "postgresql" for c in configs):
                pg = PostgresServer.start(durable=True)
            k = 0
            for cfg in configs:
                for n in ns:
                    if time.time() - t_start > a.max_total:
                        print("stopping: --max-total reached", flush=True)
                        break
                    k += 1
                    r = run_once(cfg, n, a, template, pg, tmp, k)
                    show(r)
                    results.append(r)
        finally:
            if pg is not None:
                pg.stop()
    if a.json:
        Path(a.json).write_text(json.dumps(results, indent=1))
    bad = sum(r["lost"] + r["duplicated"] + r["completed_lost"] for r in results)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
