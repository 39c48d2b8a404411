"""Train the whole bundled checkpoint in one go: semantic encoder, sync model, generator.

Made for one short lease of the GPU machine (which has jax/flax/optax but not our media libraries),
and runnable on the CPU with small budgets. Clips are made once, in parallel, and shared by
all three stages. Everything lands under --out; the pipeline folder is --out/pipeline.

    python scripts/train_bundle.py --out runs/bundle --clips 3000 \
        --sem-seconds 75 --sync-seconds 120 --gen-seconds 270

With --encoders it trains only a new generator on a pipeline's encoders and codec (the bundle's
recipe since stage 8, in the model card).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import jax
import numpy as np

from salsav_core.config import model_preset
from salsav_core.encoders import train as enc_train
from salsav_core.encoders.presets import semantic_preset, sync_preset
from salsav_core.encoders.pretrained import load_semantic, load_sync
from salsav_core.pipeline import Pipeline
from salsav_core.train_generator import (RUN_PRESETS, make_clips, prebuilt_clip_source, preset_name,
                                         train_generator)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/bundle")
    p.add_argument("--clips", type=int, default=3000)
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--encoder-preset", default="cpu")
    p.add_argument("--sync-preset", default=None,
                   help="sync model preset (default: --encoder-preset); 'motion' is the conv tower, "
                        "which trains on its own world's clips made on the fly (SyncConfig.world)")
    p.add_argument("--gen-preset", default="gpu", help="RUN_PRESETS name of train_generator")
    p.add_argument("--model", default=None, help="ModelConfig preset override")
    p.add_argument("--batch", type=int, default=None)
    p.add_argument("--sem-steps", type=int, default=100000)
    p.add_argument("--sync-steps", type=int, default=100000)
    p.add_argument("--gen-steps", type=int, default=None, help="default: the preset's")
    p.add_argument("--seed", type=int, default=None,
                   help="generator run seed, which also picks the training clips (default: the preset's)")
    p.add_argument("--world", choices=["default", "varied", "mixed"], default=None,
                   help="SynthFoley world of the generator's clips (default: the preset's)")
    p.add_argument("--onset-weight", type=float, default=None,
                   help="transient-weighted generator loss (TrainConfig.onset_weight; default: the preset's)")
    p.add_argument("--sem-seconds", type=float, default=75)
    p.add_argument("--sync-seconds", type=float, default=120)
    p.add_argument("--gen-seconds", type=float, default=270)
    p.add_argument("--deadline", type=float, default=None,
                   help="seconds from start by which the generator must be exported: its training "
                        "time is what the clips, encoders and feature cache leave (less 20 s)")
    p.add_argument("--gen-rate", type=float, default=None,
                   help="with --deadline: expected steps/s; the run (and its lr schedule) is cut to fit")
    p.add_argument("--semantic", default=None, help="use this trained semantic encoder folder")
    p.add_argument("--sync", default=None, help="use this trained sync model folder")
    p.add_argument("--init", default=None,
                   help="fine-tune this pipeline's generator (its codec, and its encoders unless "
                        "--semantic/--sync or --train-semantic/--train-sync, are kept)")
    p.add_argument("--encoders", default=None,
                   help="train a new generator on this pipeline's semantic encoder, sync model and codec "
                        "(--semantic/--sync override its encoders)")
    p.add_argument("--objective", choices=["paper", "flow"], default=None,
                   help="generator objective: paper (shortcut) or flow (plain flow matching, d = 0); "
                        "default: the init's with --init, else the preset's")
    p.add_argument("--schedule", choices=["constant", "cosine"], default=None,
                   help="generator lr after warm-up (default: the preset's); constant: the run's length is "
                        "its time budget")
    p.add_argument("--train-semantic", action="store_true",
                   help="with --init: train a new semantic encoder instead of keeping the init's")
    p.add_argument("--train-sync", action="store_true",
                   help="with --init: train a new sync model instead of keeping the init's")
    a = p.parse_args(argv)


    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    report: dict = {"devices": [str(d) for d in jax.devices()], "args": vars(a)}
    t_all = time.perf_counter()
    log = lambda *m: print(f"[{time.perf_counter() - t_all:7.1f}s]", *m, flush=True)  # noqa: E731
    log("devices", report["devices"])

    run = RUN_PRESETS[a.gen_preset]
    init = donor = None
    if a.init and a.encoders:
        p.error("--init and --encoders exclude each other (--init keeps its encoders already)")
    if a.init:
        init = Pipeline.from_pretrained(a.init)
        a.model = preset_name(init.cfg)
        if a.objective is None:          # keep the init's objective: a flow model stays one
            a.objective = "paper" if init.cfg.shortcut else "flow"
    elif a.encoders:
        donor = Pipeline.from_pretrained(a.encoders)
    over = {k: v for k, v in dict(model=a.model, batch=a.batch, steps=a.gen_steps, seed=a.seed,
                                  objective=a.objective, schedule=a.schedule, onset_weight=a.onset_weight,
                                  world=a.world).items() if v is not None}
    run = dataclasses.replace(run, n_clips=a.clips, **over)
    duration = model_preset(run.model).window_seconds

    # 1. clips, once (seeds < 1e6 only: held-out seeds start at 1e9)
    t0 = time.perf_counter()
    seeds = np.random.default_rng(run.seed).choice(1_000_000, size=a.clips, replace=False)
    clips = make_clips(seeds, duration, run.image_size, a.workers, run.world)
    report["clips_seconds"] = time.perf_counter() - t0
    log(f"{len(clips)} {run.world}-world clips of {duration} s in {report['clips_seconds']:.1f} s")

    pooled_clip = prebuilt_clip_source(clips)

    # 2. encoders: load the given folders, or train each for its time budget on the shared clips
    encoders = {}
    for kind, folder, preset, train_fn, loader, steps, seconds in (
            ("semantic", a.semantic, semantic_preset, enc_train.train_semantic, load_semantic,
             a.sem_steps, a.sem_seconds),
            ("sync", a.sync, sync_preset, enc_train.train_sync, load_sync, a.sync_steps,
             a.sync_seconds)):
        if folder:
            encoders[kind] = loader(folder)
            continue
        if init is not None and not (a.train_semantic if kind == "semantic" else a.train_sync):
            encoders[kind] = getattr(init, kind)      # fine-tuning: keep the init's encoder
            continue
        if donor is not None:
            encoders[kind] = getattr(donor, kind)     # a new generator on given encoders
            continue
        name = (a.sync_preset or a.encoder_preset) if kind == "sync" else a.encoder_preset
        own_world = getattr(preset(name), "world", "default") != "default"
        cfg = preset(name) if own_world else dataclasses.replace(
            preset(name), pool_clips=min(1024, len(clips)), ckpt_every=10**9)
        encoders[kind], m = train_fn(cfg, steps, str(out / kind), resume=True,
                                     make_clip=None if own_world else pooled_clip,
                                     progress=False, log_every=100 if not own_world else 25,
                                     max_seconds=seconds)
        report[kind] = {k: v for k, v in m.items() if k != "losses"}
        log(kind, {k: v for k, v in m.items() if k not in ("losses", "history")})
    sem, syn = encoders["semantic"], encoders["sync"]

    # 3. generator on cached features
    pipe, hist = train_generator(run, sem, syn, out / "generator", out / "pipeline", resume=True,
                                 max_seconds=a.gen_seconds, log=log, progress=False, clips=clips,
                                 init=init, fit_rate=a.gen_rate, codec=None if donor is None else donor.codec,
                                 deadline=None if a.deadline is None else t_all + a.deadline - 20)
    report["generator"] = {"steps": pipe.meta.get("trained_steps"), "seconds": pipe.meta.get("train_seconds"),
                           "last": hist[-1] if hist else None, "run": pipe.meta.get("run", dataclasses.asdict(run))}
    report["total_seconds"] = time.perf_counter() - t_all
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    log("done", json.dumps(report["generator"], default=str))


if __name__ == "__main__":
    main()
