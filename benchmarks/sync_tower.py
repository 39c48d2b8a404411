"""Sync tower speed: seconds to read a clip's per-frame sync features (v_syn), per tower.

Each tower reads the same frames of a SynthFoley clip at 24 FPS and 64 px (10 s by default,
one compiled chunk); the best of `--reps` timed calls after one warm-up call. The first tower
is the reference for the printed ratios.

    python benchmarks/sync_tower.py [--towers DIR ...] [--seconds 10] [--reps 7]

Default towers: the bundle's (motion-flux) and two candidates.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

from salsav_core.data.synthfoley import HELDOUT_SEED0, make_clip
from salsav_core.encoders.pretrained import load_sync

DEFAULT = ["experiments/sync/candidates/motion-flux",          # the bundle's sync model
           "experiments/sync/candidates/motion-augment", "experiments/sync/candidates/motion-stemtime"]


def time_tower(folder: str, frames: np.ndarray, reps: int) -> float:
    model = load_sync(folder)
    model.video_features(frames)                                   # compile
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        model.video_features(frames)
        best = min(best, time.perf_counter() - t0)
    return best


def main(argv=None):
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    p.add_argument("--towers", nargs="+", default=DEFAULT, help="sync model folders")
    p.add_argument("--seconds", type=float, default=10.0)
    p.add_argument("--reps", type=int, default=7)
    a = p.parse_args(argv)
    clip = make_clip(HELDOUT_SEED0, duration=5.0, size=64)
    n = int(round(a.seconds * 24))
    frames = clip.frames[np.arange(n) % len(clip.frames)]
    ref = None
    for folder in a.towers:
        s = time_tower(folder, frames, a.reps)
        ref = ref or s
        print(f"{folder}: {1000 * s:.1f} ms for {a.seconds:g} s of video ({s / ref:.2f}x the first)")


if __name__ == "__main__":
    main()
