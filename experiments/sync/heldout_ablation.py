"""Which visual stream fires the extra onsets on the held-out world? Runs `salsav eval
--world heldout`'s scenes (same seeds, noise, steps and scoring) with the conditional branch's
semantic or sync features replaced by their learned null embeddings, as the SynthFoley test's
ablations do, and prints R@50, P@50, onsets per event, SWSD and the background level
(`metrics.background_db`) per checkpoint and ablation.
`--offsets` adds, for the full conditions, where the onsets more than 50 ms from every impact
lie: their signed distance to the nearest impact (onset minus impact), binned, and its kind.

    python experiments/sync/heldout_ablation.py --checkpoints checkpoints/salsav-synthfoley \
        runs/cpu2h_wide/pipeline [--clips 64] [--offsets] [--out heldout_ablation.json]

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
BINS_MS = (-1e9, -400, -200, -100, -50, 50, 100, 200, 400, 1e9)


def far_onsets(scene, onsets) -> list[tuple[float, str]]:
    """(signed ms to the nearest impact, its kind) for each onset more than 50 ms from all."""
    times = np.array([e.time for e in scene.events])
    out = []
    for t in onsets:
        j = int(np.argmin(np.abs(t - times)))
        if abs(t - times[j]) > 0.05:
            out.append((1e3 * (t - times[j]), scene.events[j].kind))
    return out


def offset_table(far: list[tuple[float, str]], n_onsets: int) -> dict:
    """Shares of all onsets by binned signed distance, and by the nearest impact's kind."""
    counts = np.histogram([d for d, _ in far], BINS_MS)[0]
    by_ms = {f"{lo:g}..{hi:g}": int(c) / n_onsets                # (-50, 50) ms holds no far onset
             for lo, hi, c in zip(BINS_MS[:-1], BINS_MS[1:], counts) if lo != -50}
    kinds = {k: sum(1 for _, kk in far if kk == k) / n_onsets for k in sorted({k for _, k in far})}
    return {"far_share": len(far) / n_onsets, "by_ms": by_ms, "by_kind": kinds}


def run(pipe, scenes, frames, kw: dict, steps: int, guidance: float, offsets: bool = False) -> dict:
    rng = np.random.default_rng(0)
    recs, far, n_on, level = [], [], 0, []
    for i, (s, fr) in enumerate(zip(scenes, frames)):
        cond = replace(pipe.conditions_from_frames(*fr, ""), **kw)
        wave = decode(pipe, pipe.sample(cond, s.duration, steps, guidance, seed=i), s.duration)
        on = metrics.detect_onsets(wave, SR)
        recs.append(score_scene(s, wave, on, rng, 20))
        level.append(metrics.background_db(wave, SR))
        far += far_onsets(s, on) if offsets else []
        n_on += len(on)
    agg = aggregate(recs)
    keys = ("sync_recall_50ms", "sync_precision_50ms", "onsets_per_event", "chance_recall_50ms", "swsd")
    out = {k: float(agg[k]) for k in keys} | {"background_db": float(np.mean(level))}
    return out | ({"far_onsets": offset_table(far, n_on)} if offsets else {})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, allow_abbrev=False,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", nargs="+", required=True)
    p.add_argument("--clips", type=int, default=64)
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--guidance", type=float, default=4.0)
    p.add_argument("--offsets", action="store_true", help="where the far onsets lie (full row)")
    p.add_argument("--ablations", nargs="+", choices=sorted(ABLATIONS), default=list(ABLATIONS))
    p.add_argument("--out", default=None)
    a = p.parse_args(argv)
    scenes = [make_scene(i, 5.0) for i in range(a.clips)]
    out = {}
    if a.offsets:   # references: the true audio's onsets against their own and the next scene's impacts
        true_on = [metrics.detect_onsets(s.audio, SR) for s in scenes]
        against = {"true audio far onsets": scenes, "mismatched true audio far onsets": scenes[1:] + scenes[:1]}
        for key, impacts in against.items():
            out[key] = offset_table(sum((far_onsets(s, o) for s, o in zip(impacts, true_on)), []),
                                    sum(len(o) for o in true_on))
            print(f"{key}: {json.dumps(out[key])}", flush=True)
    for ck in a.checkpoints:
        pipe = Pipeline.from_pretrained(ck)
        sizes = (pipe.semantic.cfg.image_size, pipe.sync.cfg.image_size)
        frames = [model_frames(s, *sizes) for s in scenes]
        for name in a.ablations:
            r = run(pipe, scenes, frames, ABLATIONS[name], a.steps, a.guidance, a.offsets and name == "full")
            out[f"{ck} {name}"] = r
            print(f"{ck:40s} {name:12s} R@50 {r['sync_recall_50ms']:.3f} "
                  f"P@50 {r['sync_precision_50ms']:.3f} onsets/event {r['onsets_per_event']:.2f} "
                  f"chance R@50 {r['chance_recall_50ms']:.3f} SWSD {r['swsd']:.4f} "
                  f"background {r['background_db']:.1f} dB", flush=True)
            if "far_onsets" in r:
                print(f"  far onsets: {json.dumps(r['far_onsets'])}", flush=True)
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"config": vars(a), "rows": out}, f, indent=1)


if __name__ == "__main__":
    main()
