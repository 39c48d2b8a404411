"""A held-out world for evaluation only: drawn by code that shares nothing with SynthFoley.

A pinhole camera looks over a checkered ground plane (perspective, a horizon, a sky gradient);
flat sprites (squares, triangles, stars, blobs) at different depths fall in from above the frame
and bounce with decaying hops, or hop steadily across the ground ("hoppers": periodic
impacts). Each sprite casts a shadow that shrinks as it rises. The picture is 96x72 at 30 fps
(the model reads it through the product's video reader: shorter side scaled, centre crop,
24 FPS). Impact times are analytic (ballistic flight under g = 9.81 m/s^2 in metres); the sound
of each impact is a noise burst through two resonant filters (not SynthFoley's modal strikes)
starting at the impact's sample, over a faint noise floor.

Nothing trains on this world; it exists to ask whether synchronization survives a new look.
"""
from __future__ import annotations

import colorsys
from dataclasses import dataclass

import numpy as np
from scipy import signal

FPS = 30
WIDTH, HEIGHT = 96, 72
SR = 44100
G = 9.81                 # m/s^2
CAM_H = 1.0              # camera height above the ground, m
FOCAL = 80.0             # px
HORIZON = 0.3 * HEIGHT   # px from the top
MIN_HOP = 0.9            # m/s: slower impacts end the bouncing


@dataclass(frozen=True)
class Impact:
    time: float          # s, exact
    kind: str            # "drop" | "hop"
    strength: float      # 0..1


@dataclass
class Scene:
    seed: int
    duration: float
    frames: np.ndarray           # (T, HEIGHT, WIDTH, 3) uint8, frame k at k / FPS
    audio: np.ndarray            # (n,) float32 at SR
    events: list                 # [Impact], sorted by time
    fps: int = FPS
    sample_rate: int = SR
    silent_spans: tuple = ()
    caption: str = ""


@dataclass
class Sprite:
    kind: str                    # "drop" | "hop"
    shape: str                   # "square" | "triangle" | "star" | "blob"
    t0: float                    # appears
    t_end: float                 # gone (after a fade)
    x0: float                    # m, lateral position at t0
    vx: float                    # m/s
    z: float                     # depth, m
    size: float                  # m
    colour: np.ndarray
    spin: float                  # rad/s
    harm: np.ndarray             # blob/star radius harmonics
    hops: list                   # [(t_launch, height0, v_up)] ballistic pieces, centre height
    f: tuple                     # resonances of its sound, Hz

    def height(self, t):
        """Centre height above the ground (m) at times t; NaN outside [t0, t_end)."""
        t = np.asarray(t, float)
        y = np.full(t.shape, np.nan)
        for ta, y0, vu in self.hops:
            m = t >= ta
            tau = t[m] - ta
            y[m] = y0 + vu * tau - 0.5 * G * tau * tau
        y = np.maximum(y, self.size / 2)
        y[(t < self.t0) | (t >= self.t_end)] = np.nan
        return y


def _colour(rng, s=(0.5, 1.0), v=(0.6, 1.0)):
    return np.array(colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*s), rng.uniform(*v))) * 255


def _plan_sprite(rng, t0: float, duration: float) -> tuple[Sprite, list[Impact]]:
    kind = "hop" if rng.random() < 0.3 else "drop"
    z = rng.uniform(1.8, 4.2)
    size = rng.uniform(0.3, 0.6)
    half_w = 0.35 * WIDTH / FOCAL * z                               # central part of the view, m
    x0 = rng.uniform(-half_w, half_w)
    top = CAM_H + HORIZON * z / FOCAL + size                         # just above the frame top
    hops, impacts = [], []
    if kind == "drop":
        vx = rng.uniform(-0.15, 0.15)
        e = rng.uniform(0.45, 0.72)
        y0, vu, ta = top, 0.0, t0
        while True:
            c = size / 2
            dt = (vu + np.sqrt(vu * vu + 2 * G * (y0 - c))) / G       # lands: y(ta + dt) = c
            t_hit, v_hit = ta + dt, np.sqrt(vu * vu + 2 * G * (y0 - c))
            hops.append((ta, y0, vu))
            impacts.append(Impact(float(t_hit), "drop", float(min(v_hit / 5.0, 1.0))))
            vu, y0, ta = e * v_hit, c, t_hit
            if vu < MIN_HOP or t_hit > duration:
                hops.append((t_hit, c, 0.0))
                t_end = t_hit + rng.uniform(0.5, 1.5)
                break
    else:
        vx = rng.uniform(0.15, 0.4) * rng.choice([-1, 1])
        vu = rng.uniform(1.6, 3.0)                                   # the same hop each time
        period = 2 * vu / G
        n = int(rng.integers(4, 10))
        for k in range(n):
            ta = t0 + k * period
            hops.append((ta, size / 2, vu))
            impacts.append(Impact(float(ta + period), "hop", float(min(vu / 5.0, 1.0))))
        hops.append((t0 + n * period, size / 2, 0.0))
        t_end = t0 + n * period + rng.uniform(0.3, 1.0)
    f1 = rng.uniform(180, 900) * 0.3 / size
    sp = Sprite(kind, str(rng.choice(["square", "triangle", "star", "blob"])), t0, float(t_end),
                x0, vx, z, size, _colour(rng), rng.uniform(-4, 4), rng.uniform(0.1, 0.35, 3),
                hops, (f1, f1 * rng.uniform(1.8, 3.2)))
    return sp, [i for i in impacts if i.time < duration]


def _shape_alpha(sp: Sprite, dx, dy, r, angle):
    """Anti-aliased coverage of the sprite of radius r px at offsets (dx, dy) px, rotated."""
    ca, sa = np.cos(angle), np.sin(angle)
    x, y = dx * ca + dy * sa, -dx * sa + dy * ca
    if sp.shape == "square":
        d = np.maximum(np.abs(x), np.abs(y)) - 0.75 * r
    else:
        th, rho = np.arctan2(y, x), np.hypot(x, y)
        if sp.shape == "triangle":
            edge = r * 0.5 / np.maximum(np.cos((th % (2 * np.pi / 3)) - np.pi / 3), 1e-3)
        elif sp.shape == "star":
            edge = r * (0.65 + 0.35 * np.cos(5 * th))
        else:
            h = sp.harm
            edge = r * (1 + h[0] * np.cos(2 * th + 1) + h[1] * np.cos(3 * th) + h[2] * np.sin(4 * th)) / 1.3
        d = rho - edge
    return np.clip(0.5 - d, 0, 1)


def _backdrop(rng, ss: int = 4) -> np.ndarray:
    """Sky and checkered ground, supersampled ss x ss per pixel (no moire at the horizon)."""
    v = (np.arange(HEIGHT * ss)[:, None] + 0.5) / ss
    u = (np.arange(WIDTH * ss)[None, :] + 0.5) / ss
    sky_top, sky_low = _colour(rng, (0.2, 0.7), (0.3, 0.7)), _colour(rng, (0.1, 0.5), (0.7, 1.0))
    w = np.clip(v / HORIZON, 0, 1)[..., None]
    img = np.broadcast_to((1 - w) * sky_top + w * sky_low, (HEIGHT * ss, WIDTH * ss, 3)).copy()
    # ground: checkers on the plane y = 0, seen through the pinhole (Z = CAM_H f / (v - horizon))
    below = v > HORIZON + 0.5
    Z = CAM_H * FOCAL / np.maximum(v - HORIZON, 0.5)
    X = (u - WIDTH / 2) * Z / FOCAL
    tile = rng.uniform(0.4, 0.9)
    check = (np.floor(X / tile) + np.floor(Z / tile)) % 2
    c1, c2 = _colour(rng, (0.1, 0.6), (0.3, 0.6)), _colour(rng, (0.1, 0.6), (0.6, 0.95))
    fog = np.clip((Z - 2) / 25, 0, 0.8)[..., None]                 # far tiles fade to the sky
    ground = (c1 + (c2 - c1) * check[..., None]) * (1 - fog) + sky_low * fog
    img = np.where(below[..., None], ground, img)
    return img.reshape(HEIGHT, ss, WIDTH, ss, 3).mean(axis=(1, 3))


def _box(c: float, half: float, n: int) -> slice:
    lo = int(min(max(np.floor(c - half), 0), n))
    return slice(lo, int(min(max(np.ceil(c + half) + 1, lo), n)))


def _render(sprites, duration: float, rng) -> np.ndarray:
    T = int(round(duration * FPS))
    t = np.arange(T) / FPS
    out = np.repeat(_backdrop(rng)[None], T, axis=0)
    order = sorted(sprites, key=lambda s: -s.z)                      # far ones first
    for sp in order:
        y = sp.height(t)
        r = sp.size / 2 * FOCAL / sp.z
        gv = HORIZON + CAM_H * FOCAL / sp.z                          # ground line at its depth
        for i in np.flatnonzero(np.isfinite(y)):
            fade = min(max((sp.t_end - t[i]) / 0.3, 0.0), 1.0)
            cu = WIDTH / 2 + (sp.x0 + sp.vx * (t[i] - sp.t0)) * FOCAL / sp.z
            cv = HORIZON + (CAM_H - y[i]) * FOCAL / sp.z
            # shadow: a flat ellipse on the ground, smaller and fainter as the sprite rises
            k = min(max(1 - (y[i] - sp.size / 2) / 2.0, 0.3), 1.0)
            rows, cols = _box(gv, 0.4 * r, HEIGHT), _box(cu, 1.3 * r, WIDTH)
            yy, xx = np.mgrid[rows, cols] + 0.5
            sh = np.clip(1.2 - np.hypot((xx - cu) / (r * k), (yy - gv) / (0.3 * r * k)), 0, 1)
            out[i, rows, cols] *= (1 - 0.45 * k * fade * sh)[..., None]
            rows, cols = _box(cv, 1.2 * r, HEIGHT), _box(cu, 1.2 * r, WIDTH)
            yy, xx = np.mgrid[rows, cols] + 0.5
            a = _shape_alpha(sp, xx - cu, yy - cv, r, sp.spin * (t[i] - sp.t0)) * fade
            shade = 1 - 0.25 * np.clip((yy - cv) / max(r, 1), -1, 1)
            out[i, rows, cols] = (out[i, rows, cols] * (1 - a[..., None])
                                  + (sp.colour * shade[..., None]) * a[..., None])
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _impact_sound(sp: Sprite, strength: float, rng) -> np.ndarray:
    n = int(0.35 * SR)
    k = np.arange(n) / SR
    burst = rng.standard_normal(n) * np.exp(-k / 0.002)
    out = np.zeros(n)
    for f, q, g in ((sp.f[0], 12.0, 1.0), (sp.f[1], 20.0, 0.5)):
        b, a = signal.iirpeak(min(f, 0.45 * SR), q, fs=SR)
        out += g * signal.lfilter(b, a, burst)
    out *= np.exp(-k / 0.08)
    return (0.15 + 0.6 * strength) * out / (np.abs(out).max() + 1e-9)


def make_scene(seed: int, duration: float = 5.0) -> Scene:
    """One deterministic held-out scene: frames at 30 fps (96x72), audio, exact impacts."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    if not (0 < duration <= 120):
        raise ValueError(f"duration must be in (0, 120] seconds, got {duration!r}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x4E1D]))
    sprites, impacts, t = [], [], rng.uniform(0.0, 0.8)
    while t < duration - 0.4:
        sp, imp = _plan_sprite(rng, t, duration)
        sprites.append(sp)
        impacts += [(i, sp) for i in imp]
        t += rng.exponential(1.1) + 0.25
    n = int(round(duration * SR))
    audio = rng.standard_normal(n) * 0.002                           # a faint noise floor
    for imp, sp in impacts:
        s = _impact_sound(sp, imp.strength, rng)
        n0 = int(np.ceil(imp.time * SR))
        m = min(len(s), n - n0)
        if m > 0:
            audio[n0:n0 + m] += s[:m]
    peak = np.abs(audio).max()
    if peak > 0.95:
        audio *= 0.95 / peak
    frames = _render(sprites, duration, rng)
    events = sorted((i for i, _ in impacts), key=lambda i: i.time)
    return Scene(int(seed), float(duration), frames, audio.astype(np.float32), events)
