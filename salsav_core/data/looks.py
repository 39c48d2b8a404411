"""Randomized looks of the varied SynthFoley world: backdrops, floors, clutter, ball colours.

All functions draw from the generator they are given and return float32 images in 0..255 of
the world square (R, R, 3); the floor line stays at FLOOR_V so that bounces touch it.
"""
from __future__ import annotations

import colorsys

import numpy as np
from scipy.ndimage import gaussian_filter

from .render import FLOOR_V


def random_colour(rng, sat=(0.2, 0.9), val=(0.25, 0.95)) -> np.ndarray:
    r, g, b = colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*sat), rng.uniform(*val))
    return np.array([r, g, b], np.float32) * 255


def _pattern(rng, u, v, R) -> np.ndarray:
    """A (R, R) multiplicative texture around 1: one of stripes, checks, blobs, tiles, plain."""
    kind = int(rng.integers(5))
    amp = rng.uniform(0.04, 0.25)
    if kind == 0:                                                  # stripes at any angle
        a, f = rng.uniform(0, np.pi), rng.uniform(3, 14)
        return 1 + amp * np.sign(np.sin(2 * np.pi * f * (u * np.cos(a) + v * np.sin(a))))
    if kind == 1:                                                  # checks
        f = rng.uniform(3, 10)
        return 1 + amp * np.sign(np.sin(2 * np.pi * f * u) * np.sin(2 * np.pi * f * v))
    if kind == 2:                                                  # smooth blobs
        n = gaussian_filter(rng.standard_normal((R, R)), R * rng.uniform(0.02, 0.08), mode="wrap")
        return 1 + amp * n / (n.std() + 1e-6)
    if kind == 3:                                                  # tiles with grout lines
        f = rng.uniform(3, 9)
        grout = (np.abs((u * f) % 1 - 0.5) > 0.45) | (np.abs((v * f) % 1 - 0.5) > 0.45)
        return 1 - 2 * amp * grout
    return 1 + 0 * u


def backdrop(rng: np.random.Generator, R: int) -> np.ndarray:
    """Wall or sky above FLOOR_V, floor below; gradient, texture, clutter, floor edge."""
    v = (np.arange(R) + 0.5)[:, None] / R * np.ones((1, R))
    u = (np.arange(R) + 0.5)[None, :] / R * np.ones((R, 1))
    top, bot = random_colour(rng), random_colour(rng)
    w = np.clip(v / FLOOR_V, 0, 1)[..., None]
    img = (1 - w) * top + w * bot
    img = img * _pattern(rng, u, v, R)[..., None]
    for _ in range(int(rng.integers(0, 5))):                       # clutter: frames, shelves, discs
        col = random_colour(rng)
        cu, cv = rng.uniform(0.05, 0.95), rng.uniform(0.05, FLOOR_V - 0.1)
        hw, hh = rng.uniform(0.03, 0.15), rng.uniform(0.02, 0.12)
        if rng.random() < 0.6:
            m = (np.abs(u - cu) < hw) & (np.abs(v - cv) < hh)
        else:
            m = ((u - cu) / hw) ** 2 + ((v - cv) / hh) ** 2 < 1
        img = np.where(m[..., None], col, img)
    fc = random_colour(rng, val=(0.2, 0.8))
    fv = np.clip((v - FLOOR_V) / (1 - FLOOR_V), 0, 1)
    floor = fc * (_pattern(rng, u * rng.uniform(0.5, 2), fv, R) * (0.8 + 0.35 * fv))[..., None]
    img = np.where((v >= FLOOR_V)[..., None], floor, img)
    if rng.random() < 0.5:                                         # a visible edge at the floor line
        edge = (v >= FLOOR_V) & (v < FLOOR_V + max(1.5 / R, 0.012))
        img = np.where(edge[..., None], fc * 0.5, img)
    return np.clip(img, 0, 255).astype(np.float32)


def ball_tints(rng: np.random.Generator, base_colours, p_random: float) -> list[np.ndarray]:
    """Per-ball tint factors (3,) applied to each material's base colour by the renderer: a
    strong jitter, or (with p_random) a tint that turns the ball into a random colour."""
    out = []
    for base in base_colours:
        base = np.maximum(np.asarray(base, np.float32), 8.0)
        if rng.random() < p_random:
            out.append(random_colour(rng, sat=(0.3, 1.0), val=(0.35, 1.0)) / base)
        else:
            out.append(rng.uniform(0.75, 1.25, 3).astype(np.float32))
    return out
