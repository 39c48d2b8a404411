"""Glue of the varied SynthFoley world (`make_clip(..., world="varied")`, see world.py).

`draw_look` draws everything the classic world does not randomize from its own stream of the
clip's seed (the classic streams are untouched); `add_extras` adds the walker and slider
events and sounds; `film_frames` draws the world at the source frame rate and resolution and
passes it through the camera (camera.py) to the model's 24 FPS square frames.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import camera, extras, looks
from .materials import MATERIALS

STREAM = 0x5F0C17      # the varied world's own seed stream: SeedSequence([seed, STREAM])


@dataclass
class Look:
    cfg: object
    cam: camera.Camera
    radius_scale: float
    rate_scale: float
    backdrop: np.ndarray | None          # (R, R, 3) float32, None = the classic backdrop
    walker: extras.Walker | None
    slider: extras.Slider | None
    rng: np.random.Generator             # for tints and extra sounds, in a fixed order
    shutter: float = 0.0                 # exposure / source frame interval (0: sharp)


def draw_look(seed: int, cfg, size: int, duration: float) -> Look:
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), STREAM]))
    cam = camera.draw_camera(rng, cfg, size)
    radius = float(rng.uniform(*cfg.radius_scale))
    rate = float(rng.uniform(*cfg.rate_scale))
    bg = looks.backdrop(rng, cam.render) if rng.random() < cfg.random_background else None
    walker = extras.plan_walker(rng, duration) if rng.random() < cfg.walker_p else None
    slider = extras.plan_slider(rng, duration) if rng.random() < cfg.slider_p else None
    r2 = np.random.default_rng(np.random.SeedSequence([int(seed), STREAM, 1]))   # later additions
    shutter = float(r2.uniform(*cfg.shutter)) if r2.random() < cfg.shutter_p else 0.0
    return Look(cfg, cam, radius, rate, bg, walker, slider, rng, shutter)


def retint(look: Look, balls) -> None:
    for b, tint in zip(balls, looks.ball_tints(look.rng, [MATERIALS[b.material].color for b in balls],
                                               look.cfg.random_colours)):
        b.tint = tint


def add_extras(look: Look, audio: np.ndarray, duration: float, floor_res, event_cls) -> list:
    """Walker and slider sounds into `audio`; returns their events (times in [0, duration))."""
    out = []
    if look.walker is not None:
        for t, st in look.walker.add_audio(audio, duration, floor_res, look.rng):
            out.append(event_cls(t, "step", "foot", float(st)))
    if look.slider is not None:
        look.slider.add_audio(audio, look.rng)
        out += [event_cls(t, k, "box", max(st, 0.05)) for t, k, st in look.slider.events()
                if 0 <= t < duration]
    return out


def caption_extras(look: Look, duration: float) -> str:
    parts = []
    if look.walker is not None and look.walker.plants(duration):
        parts.append("someone walks by")
    if look.slider is not None and any(0 <= s.t_hit < duration for s in look.slider.slides):
        parts.append("a box slides into a post")
    return "".join(f", and {p}" for p in parts)


def film_frames(look: Look, n_out: int, render_fn) -> np.ndarray:
    """render_fn(side, times, backdrop, extra_draw) -> (K, side, side, 3) world frames; the
    source frames the 24 FPS output shows are drawn once each, filmed and indexed."""
    cam = look.cam
    idx = camera.source_indices(n_out, cam.fps, cam.resample)
    uniq, inv = np.unique(idx, return_inverse=True)
    times = uniq / float(cam.fps)

    def extra_draw(cv, t, allf, side):
        if look.slider is not None:
            look.slider.draw(cv, t, allf, side)
        if look.walker is not None:
            look.walker.draw(cv, t, allf, side)

    if look.shutter:        # motion blur: the exposure [t, t + shutter / fps], 3 samples
        sub = times[None, :] + np.array([0.0, 0.5, 1.0])[:, None] * look.shutter / float(cam.fps)
        world = render_fn(cam.render, sub.ravel(), look.backdrop, extra_draw)
        world = world.reshape(3, len(times), *world.shape[1:]).astype(np.float32).mean(0)
        world = np.clip(world + 0.5, 0, 255).astype(np.uint8)
    else:
        world = render_fn(cam.render, times, look.backdrop, extra_draw)
    return camera.film(world, times, cam)[inv.ravel()]


def describe(look: Look) -> dict:
    return {"world": look.cfg.name, **look.cam.describe(), "radius_scale": round(look.radius_scale, 3),
            "rate_scale": round(look.rate_scale, 3), "drawn_backdrop": look.backdrop is not None,
            "walker": look.walker is not None, "slider": look.slider is not None,
            "shutter": round(look.shutter, 3)}
