"""SynthFoley: a procedural audiovisual world that knows its own ground truth.

`make_clip(seed, duration, size)` builds one clip deterministically from its seed: balls of
several materials bounce (exact sub-frame impact times), collide, enter and leave the
frame; a car's engine pitch follows its visible speed; rain or wind ambience follows the
visible rain density / grass sway; a balloon or pendulum moves silently. Quiet windows
(ambience paused, no new objects) give stretches of visible but soundless motion, which
are measured from the audio itself and listed in `silent_spans`.

`make_clip(seed, duration, size, world="varied")` (or a `world.WorldConfig`) randomizes the
look, the camera, the source frame rate and adds footsteps and sliding boxes (world.py); the
default (`world=None` or "default") is the classic world, byte for byte.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from ..config import SAMPLE_RATE, SYNC_FPS, num_frames
from . import render, synth, varied
from .captions import make_caption
from .errors import SynthFoleyError
from .materials import FLOORS, MATERIALS
from .physics import GRAVITY, TOP, Ball, simulate
from .world import WorldConfig, resolve as resolve_world  # noqa: F401  (WorldConfig: re-export)

HELDOUT_SEED0 = 10 ** 9          # seeds below TRAIN_SEEDS train; held-out seeds start here
TRAIN_SEEDS = 1_000_000
FPS = SYNC_FPS
SILENT_RMS = 1e-3                # 10 ms RMS below this counts as silence (-60 dBFS)
MIN_SILENT = 0.4                 # shortest silent span reported, s
CAR_W = 0.24


@dataclass(frozen=True)
class Event:
    time: float        # seconds, exact (sub-frame)
    kind: str          # "bounce" | "collision" | "enter" | "exit"
    material: str      # ball material key; "a+b" for collisions
    strength: float    # 0..1


@dataclass
class Clip:
    seed: int
    duration: float
    frames: np.ndarray                  # (T_v, S, S, 3) uint8, frame i at i / 24 s
    audio: np.ndarray                   # (n,) float32 at 44100 Hz, peak <= 1
    caption: str
    events: list[Event]
    silent_spans: list[tuple[float, float]]
    continuous: dict                    # per-frame curves: engine_speed, engine_f0, ambience
    scene: dict = field(default_factory=dict)

    sample_rate: int = SAMPLE_RATE
    fps: int = FPS


# ----------------------------------------------------------------------------- planning

def _spawn_gaps(duration: float, rng) -> list[tuple[float, float]]:
    """Spawn-free gaps (about one per 5 s block, 2.5-4 s) so that the world falls quiet."""
    out = []
    for b in range(max(1, int(round(duration / 5)))):
        lo, hi = b * 5.0, min(b * 5.0 + 5.0, duration)
        length = rng.uniform(2.5, 4.0)
        if rng.random() < 0.75:
            s = rng.uniform(lo, max(lo, hi - length))
            out.append((s, s + length))
    return out


def _quiet_runs(audio: np.ndarray, thresh: float, min_len: float = 0.6) -> list[tuple[float, float]]:
    """Stretches (s) where the 10 ms RMS of `audio` stays below `thresh`."""
    hop = SAMPLE_RATE // 100
    m = len(audio) // hop
    rms = np.sqrt((audio[:m * hop].astype(np.float64).reshape(m, hop) ** 2).mean(1))
    quiet = np.concatenate([[False], rms < thresh, [False]])
    d = np.diff(quiet.astype(int))
    starts, ends = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    dur = len(audio) / SAMPLE_RATE
    return [(s * 0.01, min(e * 0.01, dur)) for s, e in zip(starts, ends)
            if (e - s) * 0.01 >= min_len]


def _in_windows(t, windows, before: float = 0.0) -> np.ndarray:
    t = np.asarray(t, float)
    hit = np.zeros(t.shape, bool)
    for s, e in windows:
        hit |= (t >= s - before) & (t <= e)
    return hit


def _gate(t: np.ndarray, windows, ramp: float = 0.3) -> np.ndarray:
    """1 outside quiet windows, 0 inside, linear ramps of `ramp` s outside their edges."""
    g = np.ones_like(t)
    for s, e in windows:
        d = np.maximum(np.maximum(s - t, t - e), 0.0)                # distance to the window
        g = np.minimum(g, np.clip(d / ramp, 0, 1))
    return g


def _make_ball(kind: str, mat: str, t0: float, floor: str, rng, side: int | None = None,
               y: float | None = None, vy: float | None = None, radius_scale: float = 1.0) -> Ball:
    m = MATERIALS[mat]
    r = rng.uniform(0.045, 0.075) * radius_scale
    side = side if side is not None else int(rng.choice([-1, 1]))  # -1: from the left
    if kind == "inside":
        p = [rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.6)]
        v = [rng.uniform(-0.4, 0.4), rng.uniform(-0.3, 0.5)]
    elif kind == "drop":
        p = [rng.uniform(0.15, 0.85), TOP + r]
        v = [rng.uniform(-0.35, 0.35), -rng.uniform(0.0, 0.4)]
    elif kind == "roll":
        p = [-r if side < 0 else 1 + r, r]
        v = [-side * rng.uniform(0.5, 1.0), 0.0]
    else:                                                          # "throw"
        y = rng.uniform(0.25, 0.6) if y is None else y
        vy = rng.uniform(-0.3, 0.9) if vy is None else vy
        p = [-r if side < 0 else 1 + r, y]
        v = [-side * rng.uniform(0.35, 0.8), vy]
    vmax = np.sqrt(max(2 * GRAVITY * (0.68 - p[1]), 0))           # keep peaks below the top
    v[1] = min(v[1], vmax)
    floor_e = {"metal": 1.0, "wood": 0.95, "stone": 0.9}[floor]
    b = Ball(material=mat, radius=r, restitution=min(m.restitution * floor_e, 0.85),
             mass=m.density * r ** 3, spawn=t0, p=np.array(p), v=np.array(v),
             grounded=kind == "roll")
    b.f0 = rng.uniform(*m.f0) * 0.06 / r                            # bigger ball, lower pitch
    b.tint = rng.uniform(0.88, 1.12, 3)
    return b


def _plan_balls(duration, gaps, mats, floor, rng, radius_scale=1.0, rate_scale=1.0) -> list[Ball]:
    balls = []
    k = dict(radius_scale=radius_scale)
    if rng.random() < 0.5:
        balls.append(_make_ball("inside", str(rng.choice(mats)), 0.0, floor, rng, **k))
    rate = rng.uniform(0.7, 1.4) * rate_scale
    t = rng.exponential(1 / rate) * 0.5
    while t < duration - 0.3:
        if not _in_windows(t, gaps):
            kind = str(rng.choice(["throw", "drop", "roll", "pair"], p=[0.3, 0.3, 0.15, 0.25]))
            if kind == "pair":                                     # thrown at each other
                y, vy = rng.uniform(0.3, 0.55), rng.uniform(0.0, 0.6)
                for side in (-1, 1):
                    balls.append(_make_ball("throw", str(rng.choice(mats)), t, floor, rng,
                                            side=side, y=y, vy=vy, **k))
            else:
                balls.append(_make_ball(kind, str(rng.choice(mats)), t, floor, rng, **k))
        t += rng.exponential(1 / rate)
    if not balls:
        balls.append(_make_ball("inside", str(rng.choice(mats)), 0.0, floor, rng, **k))
    return balls


@dataclass
class Car:
    t0: float
    direction: int          # +1 drives right
    vmax: float
    period: float
    phase: float
    color: tuple

    def speed(self, t):
        tau = np.maximum(t - self.t0, 0)
        return self.vmax * (0.6 + 0.4 * np.sin(2 * np.pi * tau / self.period + self.phase))

    def x(self, t):
        tau, w = np.maximum(t - self.t0, 0), 2 * np.pi / self.period
        dist = self.vmax * (0.6 * tau - 0.4 / w * (np.cos(w * tau + self.phase) - np.cos(self.phase)))
        start = -CAR_W / 2 - 0.01 if self.direction > 0 else 1 + CAR_W / 2 + 0.01
        return start + self.direction * dist

    def on_screen(self, t):
        """0..1 visibility ramp (engine level) and a boolean 'drawn' mask."""
        x = self.x(t)
        edge = np.minimum(x + CAR_W / 2, 1 + CAR_W / 2 - x)           # >0 while any part shows
        return np.clip(edge / 0.15, 0, 1) * (t >= self.t0), (edge > 0) & (t >= self.t0)


def _plan_cars(duration, windows, rng) -> list[Car]:
    cars, t = [], rng.uniform(-3.0, 1.0)
    while t < duration - 0.5:
        car = Car(t, int(rng.choice([-1, 1])), rng.uniform(0.3, 0.6), rng.uniform(1.2, 3.0),
                  rng.uniform(0, 2 * np.pi), tuple(rng.choice(
                      [(40, 80, 200), (40, 150, 60), (230, 200, 40), (235, 235, 235)])))
        grid = np.arange(t, t + 20, 0.02)
        _, drawn = car.on_screen(grid)
        end = grid[drawn][-1] if drawn.any() else t
        if not _in_windows(np.arange(t, end, 0.02), windows, before=0.3).any():
            cars.append(car)
            t = end + rng.uniform(1.0, 6.0)
        else:
            t += 1.0
    return cars


# ----------------------------------------------------------------------------- assembly

def _validate(seed, duration, size):
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SynthFoleyError(f"seed must be a non-negative int, got {seed!r}")
    if not (0 < duration <= 600):
        raise SynthFoleyError(f"duration must be in (0, 600] seconds, got {duration!r}")
    if not (16 <= size <= 512) or size % 2:
        raise SynthFoleyError(f"size must be an even number of pixels in [16, 512], got {size!r}")


def make_clip(seed: int, duration: float = 5.0, size: int = 64, world=None) -> Clip:
    """One deterministic SynthFoley clip (see module docstring). world: None or "default"
    (the classic world), "varied" or a `world.WorldConfig` (randomized look and timing)."""
    _validate(seed, duration, size)
    wcfg = resolve_world(world)
    look = None if wcfg is None else varied.draw_look(seed, wcfg, size, duration)
    r_plan, r_audio, r_pix, r_cap = (np.random.default_rng(s) for s in
                                     np.random.SeedSequence(int(seed)).spawn(4))
    scene = str(r_plan.choice(["indoor", "rain", "wind"]))
    floor = str(r_plan.choice(FLOORS))
    mats = list(r_plan.choice(list(MATERIALS), size=int(r_plan.integers(1, 4)), replace=False))
    mover = [None, "balloon", "pendulum"][r_plan.choice(3, p=[0.1, 0.45, 0.45])]
    balls = _plan_balls(duration, _spawn_gaps(duration, r_plan), mats, floor, r_plan,
                        *((look.radius_scale, look.rate_scale) if look else ()))
    if look:
        varied.retint(look, balls)
    amb_base, amb_per, amb_ph = r_plan.uniform(0.5, 1.0), r_plan.uniform(3, 7), r_plan.uniform(0, 6.3)
    mv = r_plan.uniform(0, 1, 6)                                    # silent mover parameters
    with_car, keep_quiet = r_plan.random() < 0.45, r_plan.random(64)

    raw = simulate(balls, duration)
    events = []
    for t, kind, idx, speed in raw:
        if kind == "collision":
            mat = "+".join(sorted(balls[i].material for i in idx))
            strength = min(speed / 1.5, 1.0)
        else:
            mat = balls[idx[0]].material
            strength = min(speed / (2.2 if kind == "bounce" else 1.2), 1.0)
        events.append(Event(float(t), kind, mat, float(max(strength, 0.05))))

    n = int(round(duration * SAMPLE_RATE))
    ts = np.arange(n) / SAMPLE_RATE
    tf = np.arange(num_frames(duration, FPS)) / FPS

    def ambience_level(t):
        if scene == "indoor":
            return np.zeros_like(t)
        return amb_base * (0.75 + 0.25 * np.sin(2 * np.pi * t / amb_per + amb_ph)) * _gate(t, windows)

    def car_curves(t):
        speed, level = np.zeros_like(t), np.zeros_like(t)
        for car in cars:
            lv, _ = car.on_screen(t)
            speed = np.where(lv > 0, car.speed(t), speed)
            level = np.maximum(level, lv)
        return speed, level

    # --- audio
    audio = np.zeros(n)
    floor_res = synth.Resonator(floor, {"wood": 300.0, "metal": 700.0, "stone": 450.0}[floor],
                                r_audio)
    res = {}
    for ev, (t, kind, idx, speed) in zip(events, raw):
        for i in idx if kind in ("bounce", "collision") else ():
            if i not in res:
                res[i] = synth.Resonator(balls[i].material, balls[i].f0, r_audio)
            res[i].strike(audio, t, ev.strength, r_audio, gain=1.0 if kind == "bounce" else 0.7)
        if kind == "bounce":
            floor_res.strike(audio, t, ev.strength, r_audio, gain=0.4)
        elif kind != "collision":
            synth.add_swish(audio, t, speed, r_audio)
    if look:
        events = sorted(events + varied.add_extras(look, audio, duration, floor_res, Event),
                        key=lambda e: e.time)
    # quiet windows: where the events have died away, the ambience pauses and no car passes
    windows = [(a + 0.02, b - 0.12) for k, (a, b) in enumerate(_quiet_runs(audio, SILENT_RMS / 4))
               if keep_quiet[k % 64] < 0.85]
    cars = _plan_cars(duration, windows, r_plan) if with_car else []
    audio += synth.ambience(scene, ambience_level(ts), r_audio)
    eng_speed, eng_level = car_curves(ts)
    audio += synth.engine(eng_speed, eng_level)
    peak = np.abs(audio).max() if n else 0.0
    if peak > 0.95:
        audio *= 0.95 / peak
    audio = audio.astype(np.float32)

    # --- picture
    if look:
        frames = varied.film_frames(look, len(tf), lambda side, times, bg, draw: _render(
            side, times, scene, floor, balls, cars, mover, mv, ambience_level, r_pix, bg=bg,
            extra_draw=draw))
    else:
        frames = _render(size, tf, scene, floor, balls, cars, mover, mv, ambience_level, r_pix)

    # --- ground truth
    silent = _silent_spans(audio) if mover else []
    counts = {}
    for b in balls:
        counts[b.material] = counts.get(b.material, 0) + 1
    caption = make_caption(counts, floor, scene, any(e.kind == "collision" for e in events),
                           bool(cars) and bool(car_curves(tf)[1].any()), mover, r_cap)
    if look:
        caption += varied.caption_extras(look, duration)
    fs, fl = car_curves(tf)
    continuous = {"engine_speed": np.where(fl > 0, fs, 0.0).astype(np.float32),
                  "engine_f0": np.where(fl > 0, synth.engine_f0(fs), 0.0).astype(np.float32),
                  "engine_level": fl.astype(np.float32),
                  "ambience_level": ambience_level(tf).astype(np.float32)}
    info = {"scene": scene, "floor": floor, "materials": sorted(counts), "mover": mover,
            "cars": len(cars), "quiet_windows": windows}
    if look:
        info["world"] = varied.describe(look)
    return Clip(int(seed), float(duration), frames, audio, caption, events, silent, continuous,
                scene=info)


def _silent_spans(audio: np.ndarray) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in _quiet_runs(audio, SILENT_RMS, MIN_SILENT)]


def _render(size, tf, scene, floor, balls, cars, mover, mv, ambience_level, rng,
            chunk: int = 240, bg=None, extra_draw=None) -> np.ndarray:
    bg = render.background(scene, floor, size) if bg is None else bg
    pad = int(0.16 * size) + 4
    streak_seed, grass_seed = rng.integers(2 ** 31, size=2)
    out = np.empty((len(tf), size, size, 3), np.uint8)
    for c0 in range(0, len(tf), chunk):
        t = tf[c0:c0 + chunk]
        cv = render.Canvas(bg, len(t), pad)
        allf = np.arange(len(t))
        if mover == "balloon":
            cu = 0.5 + 0.3 * np.sin((0.4 + 0.4 * mv[0]) * t + 6.3 * mv[1])
            cvv = 0.28 + 0.1 * np.sin((0.5 + 0.5 * mv[2]) * t + 6.3 * mv[3])
            col = [(235, 90, 160), (250, 210, 60), (150, 80, 220), (250, 140, 40)][int(mv[4] * 4)]
            frac = np.linspace(0, 1, max(4, size // 6))
            sway = 0.03 * np.sin(1.3 * t)[:, None]
            cv.points(allf[:, None], cu[:, None] + sway * frac, cvv[:, None] + 0.07 + 0.15 * frac,
                      (60, 60, 60), 0.7)
            cv.splat(allf, cu, cvv, int(0.08 * size) + 1,
                     render.disc_shade(col, 0.055 * size, 0.07 * size))
        elif mover == "pendulum":
            up, length = 0.25 + 0.5 * mv[0], 0.3 + 0.2 * mv[1]
            th = (0.3 + 0.4 * mv[2]) * np.sin(np.sqrt(GRAVITY / length) * t + 6.3 * mv[3])
            frac = np.linspace(0, 1, max(6, size // 3))
            cv.points(allf[:, None], up + length * np.sin(th)[:, None] * frac,
                      length * np.cos(th)[:, None] * frac, (50, 45, 40), 0.9)
            cv.splat(allf, up + length * np.sin(th), length * np.cos(th), int(0.05 * size) + 1,
                     render.disc_shade((200, 165, 60), 0.04 * size))
        for car in cars:
            _, drawn = car.on_screen(t)
            if drawn.any():
                x = car.x(t)[drawn]
                cv.splat(allf[drawn], x, np.full(x.shape, render.FLOOR_V - 0.058), int(0.14 * size),
                         render.car_shade(car.color, size, x / 0.03))
        if extra_draw is not None:
            extra_draw(cv, t, allf, size)
        if scene == "wind":
            render.grass(cv, t, 0.25 + 0.9 * ambience_level(t), np.random.default_rng(grass_seed))
        for b in balls:
            live = (t >= b.spawn) & (t < b.despawn)
            if not live.any() or not b.pieces:
                continue
            pos, _ = b.state_at(t[live])
            rpx = b.radius * size
            cv.splat(allf[live], pos[:, 0], TOP - pos[:, 1], int(np.ceil(rpx)) + 1,
                     render.ball_shade(b.material, rpx, pos[:, 0] / b.radius, b.tint))
        if scene == "rain":
            render.rain(cv, t, ambience_level(t), np.random.default_rng(streak_seed))
        out[c0:c0 + chunk] = cv.frames()
    return out


def make_long_clip(seed: int, duration: float = 60.0, size: int = 64, world=None) -> Clip:
    """A single-shot long clip (30-120 s typical) from the same world."""
    if duration < 10:
        raise SynthFoleyError(f"long clips are >= 10 s, got {duration!r}")
    return make_clip(seed, duration, size, world)


def iter_clips(seeds: Iterable[int], duration: float = 5.0, size: int = 64,
               world=None) -> Iterator[Clip]:
    """Stream clips as arrays (no disk round trip), e.g. for training."""
    for s in seeds:
        yield make_clip(int(s), duration, size, world)


def write_mp4(clip: Clip, path: str, crf: int = 23, audio_bitrate: int = 128_000) -> str:
    """H.264 + stereo AAC mp4, written in process (PyAV, imported lazily)."""
    from ..video_write import write_h264
    return write_h264(path, clip.frames, clip.fps, clip.audio, clip.sample_rate, channels=2, crf=crf,
                      preset="medium", audio_bitrate=audio_bitrate)


def world_clip_maker(world: str = "default"):
    """`make_clip(seed, duration, size)` in a training world: "default" (classic), "varied",
    or "mixed" (the varied world for odd seeds, the classic one for even seeds)."""
    if world not in ("default", "varied", "mixed"):
        raise ValueError(f"unknown training world {world!r}; choose default, varied or mixed")
    if world == "default":
        return make_clip
    return lambda seed, duration=5.0, size=64: make_clip(
        seed, duration, size, world="varied" if world == "varied" or seed % 2 else None)
