"""Server CPU per request of the study's main endpoints, in one process (no network, no client).

    PYTHONPATH=. python experiments/study-load/profile_requests.py [--n 300] [--profile listen] [--top 40]

Builds a study (3 clips x 3 systems of 2 s, min_listen_s 0 so saves need only the media
fetched) in a temporary SQLite database, then calls the ASGI app directly (a scope, a body,
a `send` that keeps the messages: the cost of the HTTP parser, uvicorn's, is not counted) and
divides the process CPU time (time.process_time: the event loop and the thread pool that
runs the sync routes) by the number of requests, per endpoint. `--profile ENDPOINT` runs that
endpoint's loop again under cProfile and prints the top functions by cumulative time.
`handler` rows call study.hotpath directly, without the web framework.

    PYTHONPATH=. python experiments/study-load/profile_requests.py --http [--n 500]

does the same over HTTP: `python -m study serve` (1 worker, uvicorn + httptools) on 127.0.0.1,
20 keep-alive clients (tests/study/http_client.py) sending n requests of each kind; the server's
CPU (user + system of its processes, from /proc) divided by the requests.

    PYTHONPATH=. python experiments/study-load/profile_requests.py --startup [--n 200] [--prior 0]

a participant's start, in one process, for the load benchmark's study (10 clips x 5 trials):
landing, consent (`POST /study/consent`), page, instructions, page, state, then the final
saves (`/ratings` with complete=true, which answers the next state) of the first trial, for n
new participants; `--prior K` first adds K completed participants (the study's size).
CPU per request of each kind, as above.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pstats
import tempfile
import time
from pathlib import Path

try:                                   # run from the repository root: PYTHONPATH=. python experiments/...
    from study import db, hotpath, web
    from study.manifest import load_manifest
    from study.settings import StudySettings
    from tests.study.conftest import write_study
except ModuleNotFoundError as e:
    raise SystemExit(f"{e.name} is not importable: run from the repository root with PYTHONPATH=.") from None


class Asgi:
    def __init__(self, app):
        self.app = app

    async def __call__(self, method: str, path: str, body: bytes = b"", query: bytes = b"",
                       headers: tuple = ()) -> tuple[int, dict, bytes]:
        hs = [(b"host", b"127.0.0.1:7861"), (b"user-agent", b"Mozilla/5.0"), (b"accept", b"*/*")]
        if body and not any(k == b"content-type" for k, _ in headers):
            hs += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        hs += list(headers)
        scope = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.4"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
                 "query_string": query, "root_path": "", "headers": hs,
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 7861), "state": {}}
        done = False

        async def receive():
            nonlocal done
            if not done:
                done = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        out = {"status": 0, "headers": {}, "body": b""}

        async def send(m):
            if m["type"] == "http.response.start":
                out["status"], out["headers"] = m["status"], dict(m.get("headers") or [])
            elif m["type"] == "http.response.body":
                out["body"] += m.get("body", b"")

        await self.app(scope, receive, send)
        return out["status"], out["headers"], out["body"]


def build(tmp: Path, n_clips: int = 3, trials: int = 3):
    manifest = write_study(tmp / "stim", n_clips=n_clips, trials=trials, duration=2.0, name="profile",
                           extra={"min_listen_s": 0.0})
    url = f"sqlite:///{tmp / 'p.db'}"
    engine = db.make_engine(url)
    load_manifest(engine, manifest)
    return engine, web.create_app(StudySettings(db_url=url), engine=engine)


async def participants(c: Asgi, n: int) -> list[dict]:
    """n participants joined through the API, each with its first trial's media fetched."""
    out = []
    for i in range(n):
        st, _, b = await c("POST", "/study/api/participants",
                           json.dumps({"consent": True, "external_id": f"P{i}"}).encode())
        assert st == 200, b
        tok = json.loads(b)["token"]
        st, _, b = await c("GET", f"/study/api/{tok}/state")
        t = json.loads(b)["trial"]
        for u in [t["video"]] + [x["url"] for x in t["tracks"]]:
            assert (await c("GET", u))[0] == 200
        out.append({"token": tok, "trial": t})
    return out


def loops(c: Asgi, ps: list[dict], n: int) -> dict:
    """endpoint -> an async function that sends n requests of that kind (spread over ps)."""
    body_listen = [json.dumps({"kind": k, "label": lab, "seconds": 0.5}).encode()
                   for k in ("beat",) for lab in "ABC"]

    def pick(i):
        return ps[i % len(ps)]

    async def listen():
        for i in range(n):
            p = pick(i)
            st, _, b = await c("POST", f"/study/api/{p['token']}/trials/{p['trial']['trial_id']}/listen",
                               body_listen[i % 3])
            assert st == 200, b

    async def save_click():
        for i in range(n):
            p = pick(i)
            body = json.dumps({"ratings": {"ABC"[i % 3]: {"overall": 1 + i % 5}}, "complete": False}).encode()
            st, _, b = await c("POST", f"/study/api/{p['token']}/trials/{p['trial']['trial_id']}/ratings", body)
            assert st == 200, b

    async def state():
        for i in range(n):
            st, _, b = await c("GET", f"/study/api/{pick(i)['token']}/state")
            assert st == 200, b

    async def page():
        for i in range(n):
            st, _, b = await c("GET", f"/study/p/{pick(i)['token']}")
            assert st == 200, b

    async def media():
        for i in range(n):
            st, _, b = await c("GET", pick(i)["trial"]["tracks"][i % 3]["url"])
            assert st == 200, st

    async def static():
        for i in range(n):
            st, _, b = await c("GET", "/study/static/trial.js")
            assert st == 200, st

    async def bad_request():   # a 422 (validation) and a 404 (unknown participant)
        for i in range(n):
            if i % 2:
                st, _, b = await c("POST", f"/study/api/{pick(i)['token']}/trials/{pick(i)['trial']['trial_id']}/listen",
                                   b'{"kind": "beat", "label": "Z", "seconds": 1}')
                assert st == 422, st
            else:
                st, _, b = await c("GET", "/study/api/unknowntoken123/state")
                assert st == 404, st

    return {"listen": listen, "save_click": save_click, "state": state, "page": page, "media": media,
            "static": static, "bad_request": bad_request}


def handler_only(engine, ps: list[dict], n: int) -> dict:
    """study.hotpath called directly: the part of a request that is not the web framework."""
    out = {}
    c0 = time.process_time()
    for i in range(n):
        p = ps[i % len(ps)]
        with db.write_connection(engine) as conn:
            hotpath.listen_report(conn, p["token"], p["trial"]["trial_id"], "beat", "ABC"[i % 3], 0.5)
    out["listen (handler only)"] = (time.process_time() - c0) / n
    c0 = time.process_time()
    for i in range(n):
        p = ps[i % len(ps)]
        with db.write_connection(engine) as conn:
            hotpath.save_click(conn, p["token"], p["trial"]["trial_id"], {"ABC"[i % 3]: {"overall": 1 + i % 5}})
    out["save_click (handler only)"] = (time.process_time() - c0) / n
    return out


async def main_async(args) -> None:
    with tempfile.TemporaryDirectory() as d:
        engine, app = build(Path(d))
        c = Asgi(app)
        ps = await participants(c, 20)
        fns = loops(c, ps, args.n)
        for f in fns.values():          # warm up: caches, prepared statements, the thread pool
            await loops(c, ps, 20)[f.__name__]()
        rows = {}
        for name, f in fns.items():
            best = None
            for _ in range(args.repeat):
                c0 = time.process_time()
                await f()
                cpu = (time.process_time() - c0) / args.n
                best = cpu if best is None else min(best, cpu)
            rows[name] = best
        rows.update(handler_only(engine, ps, args.n))
        print(f"CPU per request (ms), best of {args.repeat} x {args.n} requests, in one process:")
        for name, v in rows.items():
            print(f"  {name:28s} {1000 * v:6.2f}")
        if args.profile:
            if args.inline:   # the thread pool's work on this thread, where cProfile sees it
                import fastapi.routing

                async def inline(func, *a, **kw):
                    return func(*a, **kw)
                fastapi.routing.run_in_threadpool = inline
            prof = cProfile.Profile()
            f = fns[args.profile]
            prof.enable()
            await f()
            prof.disable()
            s = io.StringIO()
            pstats.Stats(prof, stream=s).sort_stats(args.sort).print_stats(args.top)
            print(s.getvalue())
        engine.dispose()


async def startup_main(args) -> None:
    """Consent, state and the final save of new participants (see the module's docstring)."""
    from urllib.parse import urlencode
    with tempfile.TemporaryDirectory() as d:
        engine, app = build(Path(d), n_clips=10, trials=5)
        c = Asgi(app)
        form = {"Content-Type": b"application/x-www-form-urlencoded"}
        cpu = {k: 0.0 for k in ("landing", "consent", "page", "instructions", "state", "final save")}
        counts = dict.fromkeys(cpu, 0)

        async def timed(kind, *a, **kw):
            c0 = time.process_time()
            out = await c(*a, **kw)
            cpu[kind] += time.process_time() - c0
            counts[kind] += 1
            return out

        async def join(i: int, measure: bool) -> None:
            run = timed if measure else (lambda _k, *a, **kw: c(*a, **kw))
            st, _, b = await run("landing", "GET", "/study", query=f"PROLIFIC_PID=S{i}".encode())
            assert st == 200, b
            sid = b.split(b'name="study_id" value="')[1].split(b'"')[0].decode()
            body = urlencode({"study_id": sid, "agree": "yes", "PROLIFIC_PID": f"S{i}"}).encode()
            st, h, b = await run("consent", "POST", "/study/consent", body,
                                 headers=((b"content-type", form["Content-Type"]),
                                          (b"content-length", str(len(body)).encode())))
            assert st == 303, (st, b)
            tok = h[b"location"].decode().rsplit("/", 1)[1]
            assert (await run("page", "GET", f"/study/p/{tok}"))[0] == 200
            assert (await run("instructions", "POST", f"/study/p/{tok}/instructions"))[0] == 303
            assert (await run("page", "GET", f"/study/p/{tok}"))[0] == 200
            st, _, b = await run("state", "GET", f"/study/api/{tok}/state")
            assert st == 200, b
            t = json.loads(b)["trial"]
            for u in [t["video"]] + [x["url"] for x in t["tracks"]]:
                assert (await c("GET", u))[0] == 200
            ratings = {x["label"]: {a: 3 for a in ("overall", "sync", "quality")} for x in t["tracks"]}
            body = json.dumps({"ratings": ratings, "complete": True}).encode()
            st, _, b = await run("final save", "POST", f"/study/api/{tok}/trials/{t['trial_id']}/ratings", body)
            assert st == 200, b

        with db.write_session(engine) as s:
            from study import service
            sid = service.get_study(s, None).id
        for i in range(args.prior):   # completed participants: the study's size
            with db.write_session(engine) as s:
                tok = service.create_participant(s, sid, external_id=f"done{i}").token
            with db.write_session(engine) as s:
                from sqlalchemy import update
                p = service.get_participant(s, tok)
                now = db.utcnow()
                s.execute(update(db.Trial).where(db.Trial.participant_id == p.id).values(completed_at=now))
                hotpath.finish(s.connection(), p.id, now, "X")   # completed, in the balance tally
        for i in range(10):            # warm up: caches, prepared statements, the thread pool
            await join(10**6 + i, False)
        for i in range(args.n):
            await join(i, True)
        print(f"CPU per request (ms) of {args.n} new participants' start, in one process "
              f"({args.prior} completed participants before):")
        for k, v in cpu.items():
            print(f"  {k:28s} {1000 * v / max(1, counts[k]):6.2f}   ({counts[k]} requests)")
        engine.dispose()


async def http_loops(base: str, n: int, clients: int = 20, only: str | None = None) -> dict:
    from benchmarks.study_load import cpu_seconds
    from tests.study.http_client import HttpClient
    cs = [HttpClient(base) for _ in range(clients)]
    for c in cs:
        await c.__aenter__()
    ps = []
    for i, c in enumerate(cs):
        r = await c.request("POST", "/study/api/participants", json={"consent": True, "external_id": f"H{i}"})
        tok = r.json()["token"]
        t = (await c.request("GET", f"/study/api/{tok}/state")).json()["trial"]
        for u in [t["video"]] + [x["url"] for x in t["tracks"]]:
            assert (await c.request("GET", u)).status_code == 200
        ps.append({"token": tok, "trial": t})

    def req(kind, i, p):
        api = f"/study/api/{p['token']}/trials/{p['trial']['trial_id']}"
        return {"listen": ("POST", api + "/listen", {"kind": "beat", "label": "ABC"[i % 3], "seconds": 0.5}, 200),
                "save_click": ("POST", api + "/ratings",
                               {"ratings": {"ABC"[i % 3]: {"overall": 1 + i % 5}}, "complete": False}, 200),
                "state": ("GET", f"/study/api/{p['token']}/state", None, 200),
                "page": ("GET", f"/study/p/{p['token']}", None, 200),
                "media": ("GET", p["trial"]["tracks"][i % 3]["url"], None, 200),
                "static": ("GET", "/study/static/trial.js", None, 200),
                "bad_request": (("POST", api + "/listen", {"kind": "beat", "label": "Z", "seconds": 1}, 422) if i % 2
                                else ("GET", "/study/api/unknowntoken123/state", None, 404))}[kind]

    async def one(kind, c, p, count):
        for i in range(count):
            method, url, body, want = req(kind, i, p)
            r = await c.request(method, url, json=body)
            assert r.status_code == want, (kind, r.status_code, r.text[:200])

    rows = {}
    for kind in ("listen", "save_click", "state", "page", "media", "static", "bad_request"):
        if only and kind != only:
            continue
        await asyncio.gather(*(one(kind, c, p, 3) for c, p in zip(cs, ps)))   # warm up
        pgid = _SERVER.proc.pid
        c0 = cpu_seconds(pgid, None)
        per = max(1, n // clients)
        await asyncio.gather(*(one(kind, c, p, per) for c, p in zip(cs, ps)))
        rows[kind] = (cpu_seconds(pgid, None) - c0) / (per * clients)
    for c in cs:
        await c.aclose()
    return rows


_SERVER = None


def http_main(args) -> None:
    global _SERVER
    from tests.study.page_client import Server
    with tempfile.TemporaryDirectory() as d:
        engine, _ = build(Path(d))
        url = str(engine.url)
        engine.dispose()
        _SERVER = Server(url, workers=1)
        if args.server_profile:   # the server under cProfile (its event loop's thread only)
            import subprocess
            popen = subprocess.Popen

            def profiled(cmd, **kw):
                return popen([cmd[0], "-m", "cProfile", "-o", args.server_profile] + cmd[1:], **kw)
            subprocess.Popen = profiled
        _SERVER.start()
        if args.server_profile:
            subprocess.Popen = popen
        try:
            rows = asyncio.run(http_loops(_SERVER.base, args.n, args.clients, args.only))
        finally:
            import signal
            _SERVER.kill(signal.SIGINT if args.server_profile else signal.SIGKILL)
    print(f"server CPU per request (ms), {args.n} requests of each kind over HTTP from {args.clients} "
          "clients, 1 worker:")
    for name, v in rows.items():
        print(f"  {name:28s} {1000 * v:6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--profile", default=None)
    ap.add_argument("--sort", default="cumulative")
    ap.add_argument("--top", type=int, default=45)
    ap.add_argument("--inline", action="store_true", help="with --profile: run sync routes on the loop's thread")
    ap.add_argument("--clients", type=int, default=20, help="with --http: concurrent keep-alive clients")
    ap.add_argument("--server-profile", default=None, help="with --http: run the server under cProfile, to FILE")
    ap.add_argument("--only", default=None, help="with --http: this endpoint only")
    ap.add_argument("--http", action="store_true", help="through `python -m study serve` on 127.0.0.1")
    ap.add_argument("--startup", action="store_true",
                    help="new participants' landing, consent, page, instructions, state, final save (10 clips x 5)")
    ap.add_argument("--prior", type=int, default=0, help="with --startup: completed participants added first")
    args = ap.parse_args()
    if args.startup:
        asyncio.run(startup_main(args))
    elif args.http:
        http_main(args)
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
