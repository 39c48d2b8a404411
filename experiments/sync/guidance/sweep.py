"""Onset guidance sweep: the bundle's 8-step SynthFoley (or held-out) R@50 / P@50 at several
`onset_guidance` weights, on the same clips and noise.

    python experiments/sync/guidance/sweep.py --clips 32 --weights 0,1,2 [--world heldout]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time

import numpy as np

from salsav_core.data.synthfoley import HELDOUT_SEED0, make_clip
from salsav_core.eval.config import EvalConfig
from salsav_core.eval.generation import clip_conditions, decode, score_clip
from salsav_core.eval.bootstrap import paired_change
from salsav_core.eval.scoring import aggregate
from salsav_core.pipeline import Pipeline


def load_world(pipe, world: str, n: int, cfg: EvalConfig):
    """The first n SynthFoley test clips, or the eval's held-out scenes (seeds 0…, read as
    uploads are), with their conditions under `pipe`."""
    if world == "heldout":
        from salsav_core.eval.heldout import make_scene
        from salsav_core.eval.heldout.video import model_frames
        clips, conds = [], []
        for i in range(n):
            sc = make_scene(i, 5.0)
            f8, f24 = model_frames(sc, pipe.semantic.cfg.image_size, pipe.sync.cfg.image_size)
            clips.append(dataclasses.replace(sc, frames=f24, seed=("heldout", i)))
            conds.append(pipe.conditions_from_frames(f8, f24, ""))
        return clips, conds
    clips = [make_clip(HELDOUT_SEED0 + i, 5.0) for i in range(n)]
    return clips, [clip_conditions(pipe, c.frames, c.caption, cfg) for c in clips]


def run_settings(pipe, clips, conds, cfg: EvalConfig, settings: dict, keys) -> dict:
    """Score each sampler setting (name -> sample(i, clip, cond) -> latent) on the same clips and
    noise; every setting after the first is paired against the first. Prints as it goes."""
    res, base = {}, None
    for name, sample in settings.items():
        t0 = time.perf_counter()
        rng = np.random.default_rng(0)
        recs, gens = [], []
        for i, (clip, cond) in enumerate(zip(clips, conds)):
            gens.append(decode(pipe, sample(i, clip, cond), clip.duration))
            recs.append(score_clip(clip, gens[-1], rng, cfg)[0])
        agg = aggregate(recs, [c.audio for c in clips], gens)
        res[name] = {k: agg.get(k) for k in keys}
        print(name, {k: round(float(v), 4) for k, v in res[name].items() if v is not None},
              f"{time.perf_counter() - t0:.0f}s", flush=True)
        if base is None:
            base = recs
            continue
        pc = paired_change(recs, base)
        res[name]["paired_vs_first"] = {k: pc[k] for k in ("sync_recall_50ms", "sync_precision_50ms") if k in pc}
        print("  paired vs first:", {k: (round(v["relative"], 3), [round(x, 3) for x in v["relative_ci95"]])
                                     for k, v in res[name]["paired_vs_first"].items()}, flush=True)
    return res


def parser() -> argparse.ArgumentParser:
    """The options both sweeps take (each adds its --weights)."""
    ap = argparse.ArgumentParser(allow_abbrev=False)
    ap.add_argument("--checkpoint", default="checkpoints/salsav-synthfoley")
    ap.add_argument("--clips", type=int, default=32)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--world", default="synthfoley", choices=("synthfoley", "heldout"))
    ap.add_argument("--out", default="")
    return ap


def main():
    ap = parser()
    ap.add_argument("--weights", default="0,1,2", help="onset guidance weights")
    a = ap.parse_args()
    pipe = Pipeline.from_pretrained(a.checkpoint)
    cfg = EvalConfig(clips=a.clips)
    clips, conds = load_world(pipe, a.world, a.clips, cfg)

    def setting(w):
        return lambda i, clip, cond: pipe.sample(cond, clip.duration, a.steps, 4.0, seed=i, onset_guidance=w)
    keys = ("sync_recall_50ms", "sync_precision_50ms", "onsets_per_event", "silence_kept", "swsd",
            "chance_recall_50ms")
    res = run_settings(pipe, clips, conds, cfg, {float(w): setting(float(w)) for w in a.weights.split(",")}, keys)
    if a.out:
        json.dump(res, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
