"""A sync tower preset fine-tuned on one SynthFoley world, optionally with every clip seen
through a random camera and look, to see whether its timing transfers to another renderer:
judge it with `probe_sync.py --world heldout` (a diagnosis; nothing trains on that world).

With `--augment P`, a share P of the clips gets one draw held for all its frames (a camera and
a look, not flicker): a random homography (perspective, zoom 0.6-1.3x, shift, mirror) with a
random fill colour outside the picture; a channel permutation, inversion, gamma, saturation and
contrast; and a static low-frequency texture on top. The sound and its timing are untouched,
so the labels stay exact.

    # candidates/motion-augment
    python experiments/sync/train_tower.py --augment 0.8 \
        --init experiments/sync/candidates/motion-detonset-4800 --steps 1200 --out runs/sync_augment
    # the varied-only tower of the README
    python experiments/sync/train_tower.py --world varied \
        --init experiments/sync/candidates/motion-detonset-4800 --steps 1200 --out runs/sync_varied
    # candidates/motion-stemtime (per-pixel temporal mixing in the stem)
    python experiments/sync/train_tower.py --augment 0.8 --stem-temporal 3 --seed 10 \
        --init experiments/sync/candidates/motion-augment --steps 2400 --out runs/sync_st3
    python experiments/sync/probe_sync.py runs/sync_augment --clips 192 --world heldout
"""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from salsav_core.data.synthfoley import world_clip_maker
from salsav_core.encoders.presets import sync_preset
from salsav_core.encoders.pretrained import load_sync
from salsav_core.encoders.train import train_sync


def homography(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """3x3 H with H @ [x, y, 1] ~ dst for the four (x, y) points of src."""
    a = []
    for (x, y), (u, v) in zip(src, dst):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y, -u])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y, -v])
    _, _, vt = np.linalg.svd(np.asarray(a, np.float64))
    return vt[-1].reshape(3, 3) / vt[-1, -1]


def warp(frames: np.ndarray, h_inv: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """(T, S, S, 3) float frames seen through a camera: output pixel p shows source h_inv @ p
    (bilinear), `fill` where that falls outside the picture."""
    t, s = frames.shape[:2]
    ys, xs = np.mgrid[0:s, 0:s].astype(np.float64) + 0.5
    src = h_inv @ np.stack([xs.ravel(), ys.ravel(), np.ones(s * s)])
    sx, sy = src[0] / src[2] - 0.5, src[1] / src[2] - 0.5
    inside = (sx > -0.5) & (sx < s - 0.5) & (sy > -0.5) & (sy < s - 0.5) & (src[2] > 0)
    x0, y0 = np.floor(sx), np.floor(sy)
    fx, fy = (sx - x0)[:, None], (sy - y0)[:, None]
    x0, y0 = np.clip(x0, 0, s - 1).astype(int), np.clip(y0, 0, s - 1).astype(int)
    x1, y1 = np.minimum(x0 + 1, s - 1), np.minimum(y0 + 1, s - 1)
    flat = frames.reshape(t, s * s, 3)
    out = ((1 - fy) * ((1 - fx) * flat[:, y0 * s + x0] + fx * flat[:, y0 * s + x1])
           + fy * ((1 - fx) * flat[:, y1 * s + x0] + fx * flat[:, y1 * s + x1]))
    out[:, ~inside] = fill
    return out.reshape(frames.shape)


def texture(s: int, rng) -> np.ndarray:
    """(S, S, 3) smooth random pattern in [-1, 1]: a few random low-frequency sinusoids."""
    ys, xs = np.mgrid[0:s, 0:s] / s
    out = np.zeros((s, s, 3))
    for _ in range(4):
        k = rng.normal(size=2) * rng.uniform(1, 6)
        out += np.sin(2 * np.pi * (k[0] * xs + k[1] * ys) + rng.uniform(0, 2 * np.pi))[..., None] * rng.uniform(-1, 1, 3)
    return out / 4


def augment(frames_u8: np.ndarray, rng, p: float = 0.8) -> np.ndarray:
    """One camera and look for the whole clip (see the module docstring)."""
    if rng.random() > p:
        return frames_u8
    s = frames_u8.shape[1]
    x = frames_u8.astype(np.float64)
    corners = np.array([[0, 0], [s, 0], [s, s], [0, s]], np.float64)
    zoom = rng.uniform(0.6, 1.3)
    dst = (corners - s / 2) * zoom + s / 2 + rng.uniform(-0.15, 0.15, 2) * s
    dst += rng.uniform(-0.2, 0.2, (4, 2)) * s * zoom                # perspective
    if rng.random() < 0.5:
        dst = dst[[1, 0, 3, 2]]                                      # mirrored
    h = homography(corners, dst)
    x = warp(x, np.linalg.inv(h), rng.uniform(0, 255, 3))
    x = x[..., rng.permutation(3)]
    if rng.random() < 0.2:
        x = 255.0 - x
    grey = x.mean(-1, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.0, 1.5)                   # saturation (0: grey)
    x = 255.0 * (np.clip(x, 0, 255) / 255.0) ** rng.uniform(0.6, 1.6)
    x = (x - 128.0) * rng.uniform(0.6, 1.3) + 128.0 + rng.uniform(-30, 30)
    if rng.random() < 0.5:
        x = x + rng.uniform(10, 50) * texture(s, rng)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def augmented_clip_maker(world: str, p: float = 0.8):
    make = world_clip_maker(world)

    def make_clip(seed, duration, size):
        clip = make(seed, duration=duration, size=size)
        return dataclasses.replace(clip, frames=augment(clip.frames, np.random.default_rng([seed, 0xA06]), p))
    return make_clip


def main(argv=None):
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--preset", default="motion-detonset")
    p.add_argument("--world", choices=["default", "varied", "mixed"], default="mixed")
    p.add_argument("--augment", type=float, default=0.0, help="share of clips augmented (0: none)")
    p.add_argument("--init", default=None, help="a trained sync model folder to start from")
    p.add_argument("--steps", type=int, default=1200)
    p.add_argument("--stem-temporal", type=int, default=None,
                   help="odd kernel: per-pixel temporal mixing in the stem (zero-initialized; "
                        "`SyncConfig.stem_temporal`); default: the preset's")
    p.add_argument("--seed", type=int, default=9)
    p.add_argument("--out", required=True)
    a = p.parse_args(argv)
    cfg = sync_preset(a.preset)
    cfg = dataclasses.replace(cfg, world=a.world, stem_temporal=(
        cfg.stem_temporal if a.stem_temporal is None else a.stem_temporal))
    init = load_sync(a.init) if a.init else None
    make_clip = augmented_clip_maker(a.world, a.augment) if a.augment > 0 else None   # None: the world's own
    _, metrics = train_sync(cfg, a.steps, a.out, seed=a.seed, init=init, make_clip=make_clip)
    print(metrics)


if __name__ == "__main__":
    main()
