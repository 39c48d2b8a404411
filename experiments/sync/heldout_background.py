"""What in a held-out picture makes a generator fill the gaps between impacts with sound (it
turned out to be a ringing, metal-like material: `runs/README.md`)? The
generator fine-tuned on `candidates/motion-stemtime-4800` puts its median frame 31.6 dB below
its loudest on the held-out scenes, the bundle 49.1 dB (`heldout_ablation.py`: without sync
features both go to -26..-28 dB). This generates each scene's audio from altered pictures and
prints the background level (`metrics.background_db`) per checkpoint and variant:

- eval: the eval's own path (H.264 at crf 20, read back by the product's reader);
- lossless: the same at crf 0 (is it compression flicker?);
- still: every frame the scene's temporal median (the backdrop, nothing moves);
- native24: the scene drawn at 24 fps, the sync rate (no 30 -> 24 fps frame drops: is it the
  judder of the resampled motion?);
- synthfoley: SynthFoley test clips of the classic world (the familiar look), for scale.

    python experiments/sync/heldout_background.py --clips 24 \
        --checkpoints checkpoints/salsav-synthfoley runs/gen_stemtime2/gen/pipeline

A diagnosis only: nothing trains on these scenes.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from dataclasses import replace

import numpy as np

from salsav_core import metrics, video_io
from salsav_core.config import SEM_FPS, SYNC_FPS
from salsav_core.data.synthfoley import HELDOUT_SEED0, make_clip
from salsav_core.eval.generation import decode
from salsav_core.eval.heldout import scene as heldout_scene
from salsav_core.eval.heldout.scene import make_scene
from salsav_core.eval.heldout.video import write_mp4
from salsav_core.eval.scoring import SR
from salsav_core.pipeline import Pipeline


def read_back(scene, sizes, crf: int):
    with tempfile.TemporaryDirectory() as d:
        path = write_mp4(scene, os.path.join(d, "scene.mp4"), crf=crf)
        return video_io.read_streams(path, [(SEM_FPS, sizes[0]), (SYNC_FPS, sizes[1])],
                                     duration=scene.duration)


def still(scene):
    bg = np.median(scene.frames, axis=0).astype(np.uint8)
    return replace(scene, frames=np.repeat(bg[None], len(scene.frames), axis=0))


def native24(seed: int):
    """The same scene (plan, sound, impacts) drawn at 24 fps."""
    fps, heldout_scene.FPS = heldout_scene.FPS, SYNC_FPS
    try:
        return replace(make_scene(seed, 5.0), fps=SYNC_FPS)
    finally:
        heldout_scene.FPS = fps


def variants(scenes, sizes, clips, only=None):
    """name → [(8 FPS frames, 24 FPS frames, duration)]; only: the names to build."""
    step = SYNC_FPS // SEM_FPS
    build = {
        "eval": lambda: [(*read_back(s, sizes, 20), s.duration) for s in scenes],
        "lossless": lambda: [(*read_back(s, sizes, 0), s.duration) for s in scenes],
        "still": lambda: [(*read_back(still(s), sizes, 20), s.duration) for s in scenes],
        "native24": lambda: [(*read_back(native24(s.seed), sizes, 20), s.duration) for s in scenes],
        "synthfoley": lambda: [(c.frames[::step], c.frames, c.duration) for c in clips],
    }
    return {k: f() for k, f in build.items() if only is None or k in only}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    p.add_argument("--clips", type=int, default=24)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--guidance", type=float, default=4.0)
    p.add_argument("--checkpoints", nargs="+", required=True)
    p.add_argument("--variants", nargs="+", default=None, help="a subset of the variants")
    p.add_argument("--out", default=None)
    a = p.parse_args()
    scenes = [make_scene(i, 5.0) for i in range(a.clips)]
    clips = [make_clip(HELDOUT_SEED0 + i, 5.0, world="default") for i in range(a.clips)]
    out = {"config": vars(a), "rows": {}}
    for ck in a.checkpoints:
        pipe = Pipeline.from_pretrained(ck)
        sizes = (pipe.semantic.cfg.image_size, pipe.sync.cfg.image_size)
        for name, items in variants(scenes, sizes, clips, a.variants).items():
            level = []
            for i, (f8, f24, dur) in enumerate(items):
                cond = pipe.conditions_from_frames(f8, f24, "")
                wave = decode(pipe, pipe.sample(cond, dur, a.steps, a.guidance, seed=i), dur)
                level.append(metrics.background_db(wave, SR))
            out["rows"][f"{ck} {name}"] = float(np.mean(level))
            print(f"{ck:40s} {name:11s} background {np.mean(level):6.1f} dB "
                  f"± {np.std(level, ddof=1) / np.sqrt(len(level)):.1f}", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
