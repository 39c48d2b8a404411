"""End to end: the whole `generate` (read → features → sampling → decode → mux) as a user runs it.

- Test videos made here with ffmpeg: a 320×240 test pattern of 10, 60 and 120 s (24 fps, no
  audio), and a real-world-like 10 s clip (1280×720, 29.97 fps, H.264 with B-frames, AAC stereo).
- Warm `Pipeline.generate` (same process, after one first call): per-stage times, total,
  real-time factor, at 8 and 1 steps (best of --reps).
- Long videos: one fresh process per length (warm compile cache), so its peak RSS is that
  length's; the 60 s time against 6× the 10 s time.
- Start-up: `salsav generate` on an 8 s clip in a new process with a cold and then a warm compile
  cache, and `python app.py` until its page answers, cold and warm.

    python benchmarks/e2e.py [--skip startup,long] [--reps 3] [--workdir /tmp/salsav-e2e]

Prints a Markdown table per part and the machine's load average (this machine is shared).
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(os.environ.get("SALSAV_E2E_ROOT") or Path(__file__).resolve().parent.parent)
PY = sys.executable
SALSAV = shutil.which("salsav") or str(Path(PY).parent / "salsav")


def enable_cache() -> None:
    try:
        from salsav_core.runtime import enable_compile_cache
    except ImportError:        # a tree from before the compile cache (a "before" run)
        return
    enable_compile_cache()


def ffmpeg(*args: str) -> None:
    import imageio_ffmpeg
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", *args], check=True,
                   timeout=600)


def make_media(work: Path) -> dict[str, Path]:
    """name → video path (made once per workdir)."""
    work.mkdir(parents=True, exist_ok=True)
    out = {}
    for s in (8, 10, 60, 120):
        p = work / f"pattern{s}.mp4"
        if not p.exists():
            ffmpeg("-f", "lavfi", "-i", f"testsrc=size=320x240:rate=24:duration={s}",
                   "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast", str(p))
        out[f"pattern{s}"] = p
    p = work / "real10.mp4"
    if not p.exists():
        ffmpeg("-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30000/1001:duration=10",
               "-f", "lavfi", "-i", "anoisesrc=color=pink:amplitude=0.1:sample_rate=48000:duration=10",
               "-vf", "noise=alls=12:allf=t", "-c:v", "libx264", "-profile:v", "high", "-bf", "3",
               "-pix_fmt", "yuv420p", "-crf", "23", "-c:a", "aac", "-ac", "2", "-b:a", "128k", str(p))
    out["real10"] = p
    return out


def load_avg() -> str:
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())


# ------------------------------------------------------------------ warm, in process

STAGES = ("read", "features", "sampling", "decode", "mux", "total")


def warm_table(media: dict, reps: int, out_dir: Path, checkpoint: str | None = None) -> None:
    from salsav_core.pipeline import DEFAULT_CHECKPOINT, Pipeline
    enable_cache()
    t0 = time.perf_counter()
    pipe = Pipeline.from_pretrained(checkpoint or DEFAULT_CHECKPOINT)
    print(f"\ncheckpoint load (in process): {time.perf_counter() - t0:.2f} s")
    t0 = time.perf_counter()
    pipe.generate(str(media["pattern10"]), steps=8, seed=0, out_path=str(out_dir / "first.mp4"))
    print(f"first generate in this process (compiles or reads the cache): {time.perf_counter() - t0:.2f} s")
    print(f"\n| video | steps | {' | '.join(STAGES)} | real time |\n|---|---|" + "---|" * (len(STAGES) + 1))
    for name in ("pattern10", "real10"):
        for steps in (8, 1):
            best = None
            for _ in range(reps):
                res = pipe.generate(str(media[name]), steps=steps, seed=0,
                                    out_path=str(out_dir / f"{name}-{steps}.mp4"))
                if best is None or res.timings["total"] < best.timings["total"]:
                    best = res
            t = best.timings
            print(f"| {name} | {steps} | " + " | ".join(f"{t.get(k, 0.0):.2f}" for k in STAGES)
                  + f" | {best.duration / t['total']:.1f}× |", flush=True)


# ------------------------------------------------------------------ one process per length

CHILD = """
import json, resource, sys, time
from salsav_core.pipeline import Pipeline
try:
    from salsav_core.runtime import enable_compile_cache
    enable_compile_cache()
except ImportError:
    pass
pipe = Pipeline.from_pretrained(*sys.argv[4:5])   # default: the bundled checkpoint
steps = int(sys.argv[3])
pipe.generate(sys.argv[1], steps=steps, seed=0, duration=1.0, out_path=sys.argv[2])   # warm
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
res = pipe.generate(sys.argv[1], steps=steps, seed=0, out_path=sys.argv[2])
print(json.dumps({"timings": res.timings, "duration": res.duration, "rss_before_kb": rss0,
                  "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def long_table(media: dict, out_dir: Path, steps: int = 8, checkpoint: str | None = None) -> None:
    rows = {}
    print(f"\n{steps} steps, one process per length\n| video | read | features | sampling | decode | mux | total | real time | peak RSS |"
          "\n|---|---|---|---|---|---|---|---|---|")
    for s in (10, 60, 120):
        r = subprocess.run([PY, "-c", CHILD, str(media[f"pattern{s}"]), str(out_dir / f"long{s}.mp4"),
                            str(steps), *([checkpoint] if checkpoint else [])],
                           capture_output=True, text=True, cwd=ROOT, timeout=1800)
        if r.returncode != 0:
            print(f"| pattern{s} | failed: {r.stderr.strip().splitlines()[-1:]} |")
            continue
        d = json.loads(r.stdout.strip().splitlines()[-1])
        rows[s] = d
        t = d["timings"]
        print(f"| {s} s | " + " | ".join(f"{t.get(k, 0.0):.2f}" for k in STAGES)
              + f" | {d['duration'] / t['total']:.1f}× | {d['rss_kb'] / 2**20:.2f} GB |", flush=True)
    if 10 in rows and 60 in rows:
        r60 = rows[60]["timings"]["total"] / (6 * rows[10]["timings"]["total"])
        print(f"60 s time / (6 × 10 s time) = {r60:.2f}")
    if 10 in rows and 120 in rows:
        print(f"peak RSS 120 s / 10 s = {rows[120]['rss_kb'] / rows[10]['rss_kb']:.2f}")


# ------------------------------------------------------------------ start-up

def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[:3]} failed: {r.stderr.strip()[-300:]}")
    return time.perf_counter() - t0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_ready(env: dict, work: Path, checkpoint: str | None = None,
              db: Path | None = None) -> tuple[float, float | None]:
    """(seconds until `/` answers, seconds until the background warm-up has finished, if it
    logs that it has: the first generation waits for it). `db`: the study database to reuse
    (a restart); None: a new one, into which the app first loads the demo study."""
    port = free_port()
    db = db or work / f"app-{port}.db"
    log = work / f"app-{port}.log"
    t0 = time.perf_counter()
    with open(log, "w") as err:
        proc = subprocess.Popen([PY, "app.py", "--port", str(port), "--db", f"sqlite:///{db}",
                                 *(["--checkpoint", checkpoint] if checkpoint else [])], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=err)
    ready = None
    try:
        while time.perf_counter() - t0 < 600:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode}")
            if ready is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                        if r.status == 200:
                            ready = time.perf_counter() - t0
                except OSError:
                    time.sleep(0.1)
                    continue
            if "warm-up" in log.read_text():
                return ready, time.perf_counter() - t0
            if time.perf_counter() - t0 > ready + 300:
                return ready, None
            time.sleep(0.1)
        raise RuntimeError("app.py did not answer within 600 s")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def startup_table(media: dict, work: Path, checkpoint: str | None = None, cold: bool = True) -> None:
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)
    env = {**os.environ, "SALSAV_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "JAX_PLATFORMS": "cpu"}
    cli = [SALSAV, "generate", str(media["pattern8"]), "-o",
           str(work / "cli.mp4"), "--steps", "8", "--seed", "0", "-q",
           *(["--checkpoint", checkpoint] if checkpoint else [])]
    print("\n| start-up | cold compile cache | warm compile cache |\n|---|---|---|")
    first = timed(cli, env)         # fills the cache
    warm = min(timed(cli, env) for _ in range(2))
    print(f"| `salsav generate` 8 s clip, new process | {first if cold else float('nan'):.2f} s "
          f"| {warm:.2f} s |", flush=True)
    if cold:
        shutil.rmtree(cache, ignore_errors=True)
    first = app_ready(env, work, checkpoint)                 # first start: new database
    db = work / "app-restart.db"
    app_ready(env, work, checkpoint, db)                      # creates it (demo study loaded)
    warm = min(app_ready(env, work, checkpoint, db) for _ in range(2))   # restarts
    fmt = lambda r: f"{r[0]:.2f} s (warm-up done at {r[1]:.1f} s)" if r[1] else f"{r[0]:.2f} s"  # noqa: E731
    print(f"| `python app.py` until `/` answers (first start: new database) | "
          f"{fmt(first) if cold else 'not run'} | {fmt(first) if not cold else ''} |", flush=True)
    print(f"| `python app.py` until `/` answers (restart: same database) | | {fmt(warm)} |", flush=True)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--skip", default="", help="comma list of: warm, long, startup")
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--long-steps", type=int, default=8, help="steps of the long-video runs")
    p.add_argument("--workdir", default=os.path.join(tempfile.gettempdir(), "salsav-e2e"))
    p.add_argument("--checkpoint", default=None, help="pipeline folder (default: the bundled one)")
    p.add_argument("--no-cold", action="store_true", help="start-up: skip the cold-cache runs")
    a = p.parse_args()
    skip = set(a.skip.split(","))
    work = Path(a.workdir)
    media = make_media(work)
    out_dir = work / "out"
    out_dir.mkdir(exist_ok=True)
    print(f"load average before (1/5/15 min): {load_avg()} on {os.cpu_count()} CPUs")
    if "warm" not in skip:
        warm_table(media, a.reps, out_dir, a.checkpoint)
    if "long" not in skip:
        long_table(media, out_dir, a.long_steps, a.checkpoint)
    if "startup" not in skip:
        startup_table(media, work, a.checkpoint, cold=not a.no_cold)
    print(f"\nload average after: {load_avg()}; this process's peak RSS "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GB")


if __name__ == "__main__":
    main()
