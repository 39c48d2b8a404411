"""Which visual stream fires the extra onsets on the held-out world? Runs `salsav eval
--world heldout`'s scenes (same seeds, noise, steps and scoring) with the conditional branch's
semantic or sync features replaced by their learned null embeddings, as the SynthFoley test's
ablations do, and prints R@50, P@50 and onsets per event per checkpoint and ablation.

    python experiments/sync/heldout_ablation.py --checkpoints checkpoints/salsav-synthfoley \
        runs/cpu2h_wide/pipeline [--clips 64] [--out heldout_ablation.json]

A diagnosis only: nothing trains on these scenes.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np

from salsav_core import metrics
from salsav_core.eval.generation import decode
from salsav_core.eval.heldout.scene import make_scene
from salsav_core.eval.heldout.section import score_scene
from salsav_core.eval.heldout.video import model_frames
from salsav_core.eval.scoring import SR, aggregate
from salsav_core.pipeline import Pipeline

ABLATIONS = {"full": {}, "no_semantic": {"drop_sem": True}, "no_sync": {"drop_sync": True}}


def run(pipe, scenes, frames, kw: dict, steps: int, guidance: float) -> dict:
    rng = np.random.default_rng(0)
    recs = []
    for i, (s, fr) in enumerate(zip(scenes, frames)):
        cond = replace(pipe.conditions_from_frames(*fr, ""), **kw)
        wave = decode(pipe, pipe.sample(cond, s.duration, steps, guidance, seed=i), s.duration)
        recs.append(score_scene(s, wave, metrics.detect_onsets(wave, SR), rng, 20))
    agg = aggregate(recs)
    keys = ("sync_recall_50ms", "sync_precision_50ms", "onsets_per_event", "chance_recall_50ms")
    return {k: float(agg[k]) for k in keys}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, allow_abbrev=False,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", required=True)
    p.add_argument("--clips", type=int, default=64)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--guidance", type=float, default=4.0)
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    scenes = [make_scene(i, 5.0) for i in range(a.clips)]
    out = {}
    for ck in a.checkpoints:
        pipe = Pipeline.from_pretrained(ck)
        sizes = (pipe.semantic.cfg.image_size, pipe.sync.cfg.image_size)
        frames = [model_frames(s, *sizes) for s in scenes]
        for name, kw in ABLATIONS.items():
            r = run(pipe, scenes, frames, kw, a.steps, a.guidance)
            out[f"{ck} {name}"] = r
            print(f"{ck:40s} {name:12s} R@50 {r['sync_recall_50ms']:.3f} "
                  f"P@50 {r['sync_precision_50ms']:.3f} onsets/event {r['onsets_per_event']:.2f} "
                  f"chance R@50 {r['chance_recall_50ms']:.3f}", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"config": vars(a), "rows": out}, f, indent=1)


if __name__ == "__main__":
    main()
