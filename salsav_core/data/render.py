"""Picture side of SynthFoley: a numpy rasterizer vectorized over frames.

Image coordinates: u = x (0..1 across), v = TOP - y (0 at the top edge, FLOOR_V at the floor
line). Objects are drawn into a padded float canvas (T, S+2p, S+2p, 3) as anti-aliased
patches gathered per frame, so off-frame parts need no clipping.
"""
from __future__ import annotations

import numpy as np

from .materials import FLOOR_COLORS, MATERIALS
from .physics import TOP

FLOOR_V = TOP            # image height (fraction) of the floor line


def background(scene: str, floor: str, size: int) -> np.ndarray:
    """Static backdrop (S, S, 3) float32: sky or wall, and a textured floor band."""
    v = (np.arange(size) + 0.5)[:, None] / size                     # (S, 1)
    u = (np.arange(size) + 0.5)[None, :] / size                     # (1, S)
    top, bot = {"indoor": ((175, 165, 145), (200, 190, 170)),
                "rain": ((80, 85, 96), (125, 130, 140)),
                "wind": ((110, 165, 230), (195, 220, 240))}[scene]
    w = v / FLOOR_V
    img = (1 - w)[..., None] * np.array(top) + w[..., None] * np.array(bot)
    img = np.broadcast_to(img, (size, size, 3)).copy()
    if scene == "indoor":                                           # wallpaper stripes
        img *= (0.96 + 0.04 * np.sin(u * 2 * np.pi * 8))[..., None]
    if scene == "wind":                                             # far hills
        hill = FLOOR_V - 0.08 - 0.05 * np.sin(u * 2 * np.pi * 1.3 + 1.0)
        img = np.where((v > hill)[..., None], np.array([70.0, 130, 70]), img)
    fv = (v - FLOOR_V) / (1 - FLOOR_V)                              # 0..1 inside the floor band
    if floor == "wood":
        tex = 0.85 + 0.15 * (np.floor(fv * 5) % 2) - 0.25 * (np.abs((fv * 5) % 1 - 0.5) > 0.42)
        tex = tex + 0.05 * np.sin(u * 60 + fv * 7)
    elif floor == "metal":
        tex = 0.8 + 0.35 * np.exp(-((u - fv * 0.5 - 0.3) ** 2) / 0.02) + 0 * fv
    else:
        tex = 0.95 - 0.3 * ((np.abs((u * 6) % 1 - 0.5) > 0.44) | (np.abs((fv * 3) % 1 - 0.5) > 0.4))
    fl = np.array(FLOOR_COLORS[floor]) * (tex * (0.8 + 0.3 * fv))[..., None]
    if scene == "rain":
        fl *= 0.75
    img = np.where((v >= FLOOR_V)[..., None], fl, img)
    return img.astype(np.float32)


class Canvas:
    """Padded frame stack; `splat` blends per-frame patches drawn by a shade function."""

    def __init__(self, bg: np.ndarray, n: int, pad: int):
        s = bg.shape[0]
        self.size, self.pad = s, pad
        self.buf = np.zeros((n, s + 2 * pad, s + 2 * pad, 3), np.float32)
        self.buf[:, pad:pad + s, pad:pad + s] = bg

    def frames(self) -> np.ndarray:
        p, s = self.pad, self.size
        return np.clip(self.buf[:, p:p + s, p:p + s] + 0.5, 0, 255).astype(np.uint8)

    def splat(self, fi, cu, cv, half: int, shade) -> None:
        """fi (K,) frame indices; (cu, cv) (K,) patch centres in image fractions; the patch is
        (2*half+2)^2 pixels; shade(dx, dy, k) -> rgb (K,P,P,3), alpha (K,P,P) with dx, dy in
        pixels from the centre (shapes (K,1,P), (K,P,1))."""
        s, p = self.size, self.pad
        cx, cy = np.asarray(cu) * s, np.asarray(cv) * s
        keep = (cx > -half - 1) & (cx < s + half + 1) & (cy > -half - 1) & (cy < s + half + 1)
        if not keep.any():
            return
        fi, cx, cy = np.asarray(fi)[keep], cx[keep], cy[keep]
        ar = np.arange(2 * half + 2)
        xs = np.floor(cx).astype(int)[:, None] - half + ar           # (K, P)
        ys = np.floor(cy).astype(int)[:, None] - half + ar
        dx = (xs + 0.5 - cx[:, None])[:, None, :]                     # (K, 1, P)
        dy = (ys + 0.5 - cy[:, None])[:, :, None]                     # (K, P, 1)
        rgb, alpha = shade(dx, dy, keep)
        # indices beyond the padding go to the (never shown) outermost pad pixel, untouched
        n = s + 2 * p
        xs, ys = xs + p, ys + p
        out = ((xs < 0) | (xs >= n))[:, None, :] | ((ys < 0) | (ys >= n))[:, :, None]
        alpha = np.where(out, 0.0, alpha)
        xs, ys = np.clip(xs, 0, n - 1), np.clip(ys, 0, n - 1)
        idx = (fi[:, None, None], ys[:, :, None], xs[:, None, :])
        a = alpha[..., None]
        self.buf[idx] = self.buf[idx] * (1 - a) + rgb * a

    def points(self, fi, u, v, color, alpha: float = 1.0) -> None:
        """Blend single pixels at image fractions (u, v) (any equal shapes) in frames fi."""
        s, p = self.size, self.pad
        fi, u, v = np.broadcast_arrays(fi, u, v)
        x, y = np.floor(u * s).astype(int), np.floor(v * s).astype(int)
        ok = (x >= 0) & (x < s) & (y >= 0) & (y < s)
        idx = (fi[ok], y[ok] + p, x[ok] + p)
        self.buf[idx] = self.buf[idx] * (1 - alpha) + np.asarray(color, np.float32) * alpha


def _sphere_light(dx, dy, r):
    z = np.sqrt(np.maximum(1 - (dx * dx + dy * dy) / (r * r), 0))
    return np.clip(0.55 + 0.45 * (0.8 * z - 0.3 * dx / r - 0.3 * dy / r), 0.2, 1.1)


def ball_shade(material: str, r: float, angle: np.ndarray, tint: np.ndarray):
    """Shade function for a ball of radius r px; angle (K,) roll angle; tint (3,) factor."""
    m = MATERIALS[material]
    base = np.asarray(m.color, np.float32) * tint

    def shade(dx, dy, keep):
        a = angle[keep][:, None, None]
        lu = (dx * np.cos(a) + dy * np.sin(a)) / r
        lv = (-dx * np.sin(a) + dy * np.cos(a)) / r
        light = _sphere_light(dx, dy, r)
        tex = {"stripes": 0.8 + 0.25 * np.sin(lu * 9),
               "shine": 0.75 + 0.0 * lu,
               "clear": 0.95 + 0.0 * lu,
               "band": np.where(np.abs(lv) < 0.28, 0.5, 1.0),
               "speckle": 0.88 + 0.14 * np.sign(np.sin(lu * 11) * np.sin(lv * 13))}[m.texture]
        rgb = base * (tex * light)[..., None]
        if m.texture in ("shine", "clear"):
            hl = np.exp(-((dx + 0.35 * r) ** 2 + (dy + 0.35 * r) ** 2) / (0.3 * r) ** 2)
            rgb = rgb + (120.0 * hl)[..., None]
        dist = np.sqrt(dx * dx + dy * dy)
        alpha = np.clip(r + 0.5 - dist, 0, 1) * m.alpha
        return rgb, alpha
    return shade


def disc_shade(color, rx: float, ry: float | None = None):
    """Flat-lit ellipse with radii (rx, ry) px."""
    ry = rx if ry is None else ry
    col = np.asarray(color, np.float32)

    def shade(dx, dy, keep):
        q = np.sqrt((dx / rx) ** 2 + (dy / ry) ** 2)
        light = _sphere_light(dx / rx, dy / ry, 1.0)
        alpha = np.clip((1 - q) * min(rx, ry) + 0.5, 0, 1)
        return col * light[..., None], alpha
    return shade


def car_shade(color, size: int, wheel_angle: np.ndarray):
    """Car body + cabin + two wheels with a visible spoke; centre = body centre."""
    col = np.asarray(color, np.float32)
    W, H, wr = 0.24 * size, 0.055 * size, 0.03 * size

    def shade(dx, dy, keep):
        dx, dy = np.broadcast_arrays(dx, dy)
        cov = lambda d: np.clip(d + 0.5, 0, 1)                     # signed-distance → alpha
        body = np.minimum(cov(W / 2 - np.abs(dx)), cov(H / 2 - np.abs(dy)))
        cab = np.minimum(cov(W * 0.27 - np.abs(dx + 0.02 * size)),
                         cov(H * 0.8 - np.abs(dy + H)))
        rgb = np.where((cab > body)[..., None], np.array([150.0, 190, 215]), col)
        alpha = np.maximum(body, cab)
        a = wheel_angle[keep][:, None, None]
        for wx in (-0.07 * size, 0.07 * size):
            ddx, ddy = dx - wx, dy - H / 2
            wheel = cov(wr - np.sqrt(ddx ** 2 + ddy ** 2))
            spoke = np.sqrt((ddx - 0.6 * wr * np.cos(a)) ** 2 + (ddy - 0.6 * wr * np.sin(a)) ** 2)
            wcol = np.where((spoke < 0.35 * wr)[..., None], 170.0, 30.0)
            rgb = np.where((wheel > 0)[..., None], wcol * np.ones(3), rgb)
            alpha = np.maximum(alpha, wheel)
        return rgb, alpha
    return shade


def rain(cv: Canvas, t: np.ndarray, level: np.ndarray, rng: np.random.Generator) -> None:
    """Falling streaks; the number shown in frame i is proportional to level[i]."""
    s = cv.size
    m, L = 3 * s // 2, max(2, s // 20)
    u0, ph = rng.uniform(0, 1.3, m), rng.uniform(0, 1.1, m)
    rank = rng.permutation(m) / m
    v = (ph[None] + 1.7 * t[:, None]) % 1.1 - 0.05                   # (T, M) head position
    u = (u0[None] - 0.25 * v) % 1.3 - 0.15
    show = rank[None] < level[:, None]
    fi = np.broadcast_to(np.arange(len(t))[:, None], v.shape)[show]
    l = np.arange(L) / s
    cv.points(fi[:, None], u[show][:, None] + 0.25 * l, v[show][:, None] - l,
              (200, 205, 215), 0.55)


def grass(cv: Canvas, t: np.ndarray, sway: np.ndarray, rng: np.random.Generator) -> None:
    """Blades along the floor line whose tips bend with sway[i] (wind strength)."""
    s = cv.size
    k, L = s // 2, max(3, s // 10)
    ub, vb = rng.uniform(0, 1, k), FLOOR_V + rng.uniform(0.0, 0.06, k)
    h, ph = rng.uniform(0.04, 0.1, k), rng.uniform(0, 2 * np.pi, k)
    green = np.array([40.0, 120, 40]) * rng.uniform(0.8, 1.2, (k, 1))
    frac = np.linspace(0, 1, L)                                      # (L,)
    bend = sway[:, None] * h[None] * (0.7 + 0.3 * np.sin(2 * np.pi * 1.3 * t[:, None] + ph))
    uu = ub[None, :, None] + bend[..., None] * frac ** 2             # (T, K, L)
    vv = vb[None, :, None] - h[None, :, None] * frac
    fi = np.arange(len(t))[:, None, None]
    for j in range(k):                                               # per blade colour
        cv.points(fi[:, 0], uu[:, j], vv[:, j], green[j])
