"""Extra event kinds of the varied SynthFoley world, with analytic (exact) event times.

- `Walker`: a figure crosses the floor; its feet alternate, each swing ends with the foot
  striking the floor at a known time (kind "step": periodic, footstep-like thuds).
- `Slider`: a box is pushed towards a post (kind "slide", a scrape begins), decelerates by
  constant friction and stops against the post (kind "hit").
Each object gives its events, adds its sound, and draws itself into a render.Canvas.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal

from . import render, synth
from .looks import random_colour
from .physics import TOP

SR = synth.SR
_SCRAPE = signal.butter(2, (300, 3000), btype="band", fs=SR, output="sos")


def _rect_shade(color, hx: float, hy: float):
    col = np.asarray(color, np.float32)

    def shade(dx, dy, keep):
        cov = np.minimum(np.clip(hx - np.abs(dx) + 0.5, 0, 1), np.clip(hy - np.abs(dy) + 0.5, 0, 1))
        light = 0.85 + 0.15 * np.clip(-dy / max(hy, 1e-6), -1, 1)
        return col * light[..., None], cov
    return shade


@dataclass
class Walker:
    t0: float            # time the body is at x0
    x0: float
    direction: int
    speed: float         # body speed, units/s
    step: float          # seconds between plants (feet alternate)
    scale: float         # body size
    lift: float          # foot lift, units
    colour: np.ndarray
    strength: np.ndarray  # per plant index (cycled)

    def body_x(self, t):
        return self.x0 + self.direction * self.speed * (np.asarray(t, float) - self.t0)

    def _plant_x(self, p):
        return self.body_x(p) + self.direction * 0.5 * self.speed * self.step

    def plants(self, duration: float) -> list[tuple[float, int]]:
        """(time, foot) of every plant with the foot on screen, in [0, duration)."""
        out, k = [], int(np.floor(-self.t0 / self.step)) - 1
        while True:
            p = self.t0 + k * self.step
            if p >= duration:
                return out
            if p >= 0 and 0 <= self._plant_x(p) <= 1:
                out.append((float(p), k % 2))
            k += 1

    def foot(self, t, j: int):
        """Foot j's (x, height) at times t: stance at its last plant, then a swing that lands
        with downward speed exactly at the next plant."""
        t = np.asarray(t, float)
        cyc, sw = 2 * self.step, 0.8 * self.step
        m = np.floor((t - self.t0 - j * self.step) / cyc)
        last = self.t0 + j * self.step + m * cyc
        tau = t - last
        x_last, x_next = self._plant_x(last), self._plant_x(last + cyc)
        s = np.clip((tau - (cyc - sw)) / sw, 0, 1)
        x = x_last + (x_next - x_last) * (3 * s ** 2 - 2 * s ** 3)
        return x, self.lift * np.sin(np.pi * s)

    def add_audio(self, audio, duration, floor_res, rng) -> list[tuple[float, float]]:
        heel = synth.Resonator("rubber", rng.uniform(90, 160), rng)
        out = []
        for i, (p, _) in enumerate(self.plants(duration)):
            st = float(self.strength[i % len(self.strength)])
            heel.strike(audio, p, st, rng, gain=0.9)
            floor_res.strike(audio, p, st, rng, gain=0.35)
            out.append((p, st))
        return out

    def draw(self, cv, t, allf, size):
        sc = self.scale
        hip = 0.17 * sc
        xb = self.body_x(t)
        on = (xb > -0.3) & (xb < 1.3)
        if not on.any():
            return
        f, xb = allf[on], xb[on]
        frac = np.linspace(0, 1, max(6, size // 4))
        for j in (0, 1):
            xf, yf = self.foot(t[on], j)
            cv.points(f[:, None], xb[:, None] + (xf - xb)[:, None] * frac,
                      TOP - (hip + (yf + 0.012 * sc - hip)[:, None] * frac), self.colour * 0.6, 0.95)
            cv.splat(f, xf, TOP - yf - 0.012 * sc, int(0.04 * sc * size) + 1,
                     render.disc_shade((40, 35, 30), 0.03 * sc * size, 0.013 * sc * size))
        cv.splat(f, xb, np.full(len(f), TOP - hip - 0.08 * sc), int(0.1 * sc * size) + 1,
                 render.disc_shade(self.colour, 0.04 * sc * size, 0.085 * sc * size))
        cv.splat(f, xb, np.full(len(f), TOP - hip - 0.2 * sc), int(0.04 * sc * size) + 1,
                 render.disc_shade((225, 190, 160), 0.03 * sc * size))


@dataclass
class Slide:
    t_push: float
    t_hit: float
    x_start: float       # box centre at the push
    direction: int
    decel: float
    v0: float
    appear: float        # time the box appears (at rest)
    vanish: float        # time it disappears (resting against the post)

    def x(self, t):
        tau = np.clip(np.asarray(t, float) - self.t_push, 0, self.t_hit - self.t_push)
        return self.x_start + self.direction * (self.v0 * tau - 0.5 * self.decel * tau * tau)

    def speed(self, t):
        t = np.asarray(t, float)
        v = self.v0 - self.decel * (t - self.t_push)
        return np.where((t >= self.t_push) & (t < self.t_hit), v, 0.0)


@dataclass
class Slider:
    post_x: float
    post_w: float
    post_h: float
    box_w: float         # half width
    box_h: float         # half height
    box_colour: np.ndarray
    post_colour: np.ndarray
    slides: list

    def events(self) -> list[tuple[float, str, float]]:
        out = []
        for s in self.slides:
            out += [(s.t_push, "slide", 0.3), (s.t_hit, "hit", float(min(s.speed(s.t_hit - 1e-9) / 0.6, 1.0)))]
        return out

    def add_audio(self, audio, rng) -> None:
        box = synth.Resonator("wood", rng.uniform(250, 500), rng)
        post = synth.Resonator(str(rng.choice(["metal", "wood", "stone"])), rng.uniform(300, 900), rng)
        for s in self.slides:
            a, b = int(np.ceil(s.t_push * SR)), min(int(np.ceil(s.t_hit * SR)), len(audio))
            if b > a:
                tt = np.arange(a, b) / SR
                env = np.minimum((tt - s.t_push) / 0.004, 1) * (0.25 + 0.75 * s.speed(tt) / s.v0)
                noise = signal.sosfilt(_SCRAPE, rng.standard_normal(b - a + 512))[512:]
                audio[a:b] += 0.07 * env * noise / (noise.std() + 1e-9)
            box.strike(audio, s.t_push, 0.3, rng, gain=0.6)              # the push: a knock
            st = float(min(s.speed(s.t_hit - 1e-9) / 0.6, 1.0))
            box.strike(audio, s.t_hit, max(st, 0.2), rng, gain=0.5)
            post.strike(audio, s.t_hit, max(st, 0.2), rng, gain=0.4)

    def draw(self, cv, t, allf, size):
        hy = self.post_h / 2
        cv.splat(allf, np.full(len(t), self.post_x), np.full(len(t), TOP - hy),
                 int(max(self.post_w / 2, hy) * size) + 2,
                 _rect_shade(self.post_colour, self.post_w / 2 * size, hy * size))
        for s in self.slides:
            live = (t >= s.appear) & (t < s.vanish)
            if live.any():
                x = s.x(t[live])
                cv.splat(allf[live], x, np.full(len(x), TOP - self.box_h),
                         int(max(self.box_w, self.box_h) * size) + 2,
                         _rect_shade(self.box_colour, self.box_w * size, self.box_h * size))


def plan_walker(rng, duration: float) -> Walker:
    d = int(rng.choice([-1, 1]))
    speed = rng.uniform(0.12, 0.3)
    return Walker(t0=rng.uniform(-1.0, max(duration * 0.6, 0.1)), x0=-0.1 if d > 0 else 1.1,
                  direction=d, speed=speed, step=rng.uniform(0.3, 0.6), scale=rng.uniform(0.7, 1.3),
                  lift=rng.uniform(0.02, 0.05), colour=random_colour(rng),
                  strength=rng.uniform(0.3, 0.7, 8))


def plan_slider(rng, duration: float) -> Slider:
    post_x, post_w = rng.uniform(0.3, 0.7), rng.uniform(0.02, 0.045)
    bw, bh = rng.uniform(0.03, 0.06), rng.uniform(0.025, 0.05)
    slides, t = [], rng.uniform(0.2, 1.5)
    while t < duration - 0.3:
        d = int(rng.choice([-1, 1]))
        contact = post_x - d * (post_w / 2 + bw)                     # box centre at the hit
        room = (contact - bw) if d > 0 else (1 - bw - contact)       # distance to the edge
        dist = rng.uniform(0.1, max(room, 0.12))
        a, v1 = rng.uniform(0.3, 0.9), rng.uniform(0.15, 0.55)
        tau = (-v1 + np.sqrt(v1 * v1 + 2 * a * dist)) / a            # exact: dist = v1 tau + a tau^2 / 2
        s = Slide(t_push=float(t), t_hit=float(t + tau), x_start=float(contact - d * dist),
                  direction=d, decel=float(a), v0=float(v1 + a * tau),
                  appear=float(t - rng.uniform(0.2, 0.6)), vanish=float(t + tau + rng.uniform(0.4, 1.0)))
        slides.append(s)
        t = s.vanish + rng.uniform(0.6, 1.5)
    return Slider(post_x, post_w, rng.uniform(0.12, 0.3), bw, bh, random_colour(rng),
                  random_colour(rng, val=(0.2, 0.7)), slides)
