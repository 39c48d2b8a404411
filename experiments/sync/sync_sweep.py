"""Train several sync-model variants one after another and keep the one whose features best
locate audible onsets (`encoders.evaluation.sync_event_probe` on held-out seeds).

Made for one short GPU lease. Variants run in turn in this one process, on one shared set of
clips, each for the same wall time. (Run side by side as processes on one GPU, without MPS,
they were time-sliced to 0.6 steps/s each, against 35 steps/s alone: see the model card.)
An optional reference model (e.g. the bundled one) is probed on the same held-out clips.

    python experiments/sync/sync_sweep.py --out /tmp/sweep --seconds 60 \
        --reference checkpoints/salsav-synthfoley --variants dense,wide-dense

The bundled sync model was fine-tuned this way on the CPU from the GPU-trained one (the
checkpoint as of commit e8b9f63), 1,500 steps in about 15 minutes on 2 cores. (It was run
as 860 steps, then resumed to 1,500; feature_hop 8 was set in its config afterwards.)

    git worktree add /tmp/old e8b9f63
    python experiments/sync/sync_sweep.py --out runs/sync_dense --init /tmp/old/checkpoints/salsav-synthfoley \
        --variants dense-hop8 --steps 1500 --seconds 1e9 --clips 600 --clip-seed 7 --lr 3e-4 --warmup 50

and then (stage 5 of the model card, from that model; 2,500 steps in 813 s):

    python experiments/sync/sync_sweep.py --out runs/sync_shift --init runs/sync_dense/best \
        --variants shift-dense-hop8 --steps 2500 --seconds 2100 --clips 600 --clip-seed 8 --lr 3e-4 --warmup 50
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import time
from pathlib import Path

import numpy as np

from salsav_core.data.synthfoley import make_clip
from salsav_core.encoders.evaluation import PROBE_SEED0, sync_event_probe
from salsav_core.encoders.presets import sync_preset
from salsav_core.encoders.pretrained import load_sync
from salsav_core.encoders.train import train_sync
from salsav_core.pipeline import Pipeline
from salsav_core.train_generator import make_clips, prebuilt_clip_source

# SyncConfig overrides of the `cpu` preset. Bigger batches: more clips, more snippets of each
# (the same-clip snippets are the hard negatives); `hires` sees the frames at their native
# 64 px (from a 32 px --init, its position grid is resized); `dense` adds the per-frame SigLIP
# term; `hop8` reads v_syn from overlapping snippets (inference only: training sees single
# snippets either way); `shift` adds the within-snippet term against randomly shifted audio.
VARIANTS = {
    "base": {},
    "wide": {"clips_per_batch": 8, "snippets_per_clip": 16},
    "hires": {"image_size": 64, "clips_per_batch": 8, "snippets_per_clip": 16},
    "hires-deep": {"image_size": 64, "spatial_depth": 2, "temporal_depth": 3,
                   "clips_per_batch": 8, "snippets_per_clip": 16},
    "dense": {"dense_weight": 1.0},
    "dense-hop8": {"dense_weight": 1.0, "feature_hop": 8},
    "shift-dense-hop8": {"dense_weight": 1.0, "shift_weight": 1.0, "feature_hop": 8},
    "hires-shift-dense-hop8": {"image_size": 64, "dense_weight": 1.0, "shift_weight": 1.0, "feature_hop": 8},
    "wide-dense": {"dense_weight": 1.0, "clips_per_batch": 8, "snippets_per_clip": 16},
}


def load_any_sync(path: str):
    """A sync model from a sync folder or from a whole pipeline checkpoint."""
    cfg = Path(path) / "config.json"
    if cfg.is_file() and "generator" in json.loads(cfg.read_text()):
        return Pipeline.from_pretrained(path).sync
    return load_sync(path)


def main(argv=None):
    p = argparse.ArgumentParser(allow_abbrev=False, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/sync_sweep")
    p.add_argument("--variants", default="base,dense")
    p.add_argument("--seconds", type=float, default=60.0, help="training wall time per variant")
    p.add_argument("--steps", type=int, default=3000, help="step cap (the lr schedule's length)")
    p.add_argument("--clips", type=int, default=1024, help="training clips (shared)")
    p.add_argument("--clip-seed", type=int, default=3, help="picks the training clips (seeds < 1e6)")
    p.add_argument("--workers", type=int, default=0, help="clip-making processes (0: all cores)")
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default: the config's)")
    p.add_argument("--warmup", type=int, default=None)
    p.add_argument("--probe-clips", type=int, default=160)
    p.add_argument("--reference", default=None, help="pipeline or sync folder to probe alongside")
    p.add_argument("--init", default=None, help="fine-tune every variant from this sync model "
                                                "(pipeline or sync folder; same shape required)")
    a = p.parse_args(argv)
    names = a.variants.split(",")
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        p.error(f"unknown variants {unknown}; choose from {sorted(VARIANTS)}")

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    log = lambda *m: print(f"[{time.perf_counter() - t0:7.1f}s]", *m, flush=True)  # noqa: E731
    probe_clips: dict = {}                 # made once, probed for every model

    def probe_clip(seed, duration, size):
        if seed not in probe_clips:
            probe_clips[seed] = make_clip(seed, duration, size)
        return probe_clips[seed]
    probe = lambda model: sync_event_probe(model, range(PROBE_SEED0, PROBE_SEED0 + a.probe_clips),  # noqa: E731
                                           make_clip=probe_clip)
    results = {}
    if a.reference:
        results["reference"] = {"path": a.reference, "probe": probe(load_any_sync(a.reference))}
        log("reference", results["reference"]["probe"])
    init = load_any_sync(a.init) if a.init else None
    seeds = np.random.default_rng(a.clip_seed).choice(1_000_000, a.clips, replace=False)
    clips = make_clips(seeds, 5.0, 64, a.workers)
    log(f"{len(clips)} clips")

    for name in names:
        base = init.cfg if init is not None else sync_preset("cpu")
        train = {k: v for k, v in dict(lr=a.lr, warmup=a.warmup).items() if v is not None}
        cfg = dataclasses.replace(base, pool_clips=min(1024, len(clips)), ckpt_every=10**9,
                                  **{**VARIANTS[name], **train})
        model, m = train_sync(cfg, a.steps, str(out / name), resume=False,
                              make_clip=prebuilt_clip_source(clips),
                              progress=False, log_every=200, max_seconds=a.seconds, init=init)
        results[name] = {"overrides": VARIANTS[name], "train": {k: v for k, v in m.items() if k != "losses"},
                         "probe": probe(model)}
        log(name, results[name]["train"]["steps"], "steps", results[name]["probe"])
    ap = {k: r["probe"]["ap"] for k, r in results.items()}
    best = max(ap, key=ap.get)
    (out / "sweep.json").write_text(json.dumps({"best": best, "ap": ap, "seconds": time.perf_counter() - t0,
                                                "init": a.init, "results": results}, indent=1))
    if best != "reference":
        shutil.copytree(out / best, out / "best", dirs_exist_ok=True)
    log("sweep", json.dumps({"best": best, "ap": ap}))


if __name__ == "__main__":
    main()
