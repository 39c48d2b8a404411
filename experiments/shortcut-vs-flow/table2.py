"""The paper's Table 2 on our data: a shortcut and a plain flow-matching generator trained by the
same recipe for the same wall time, on the same clips, features and codec.

Made for what is left of one GPU lease, and runnable on the CPU with small budgets:

    python experiments/shortcut-vs-flow/table2.py --out /tmp/t2 --tar-to $OUT --budget 270

Both generators start from scratch (`--preset`, default the 2.2 M `cpu-tiny`) on the bundled
checkpoint's semantic encoder and codec and the sync model `--sync`. The clips and their
feature cache are made once; what `--budget` (seconds from start) leaves is split equally
between the two runs, compile included, at a constant learning rate after warm-up (so neither
run's schedule depends on a guessed step rate). Each exported pipeline is tarred into
`--tar-to` as soon as it is done (paper.tar, flow.tar). Evaluate both on the CPU with
`salsav eval --steps 1,2,4,8,32` (the README here has the commands).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import tarfile
import time
from pathlib import Path

import numpy as np

from salsav_core.config import model_preset
from salsav_core.encoders.pretrained import load_sync
from salsav_core.pipeline import Pipeline
from salsav_core.train_generator import RUN_PRESETS, build_cache, make_clips, train_generator

CACHE_FILES = ("cache.npz", "codec.json", "cache_encoders.json")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="runs/table2")
    p.add_argument("--tar-to", default=None, help="also tar each exported pipeline into this folder")
    p.add_argument("--donor", default="checkpoints/salsav-synthfoley", help="semantic encoder and codec")
    p.add_argument("--sync", default="experiments/sync/candidates/motion-flux",
                   help="sync model folder ('' : the donor's)")
    p.add_argument("--preset", default="cpu-tiny")
    p.add_argument("--clips", type=int, default=800)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--world", default="mixed", choices=["default", "varied", "mixed"])
    p.add_argument("--budget", type=float, default=270, help="seconds from start to both exports")
    p.add_argument("--objectives", default="paper,flow")
    a = p.parse_args(argv)

    t_all = time.perf_counter()
    log = lambda *m: print(f"[{time.perf_counter() - t_all:7.1f}s]", *m, flush=True)  # noqa: E731
    out = Path(a.out)
    if a.tar_to:
        Path(a.tar_to).mkdir(parents=True, exist_ok=True)
    donor = Pipeline.from_pretrained(a.donor)
    sync = load_sync(a.sync) if a.sync else donor.sync
    run = dataclasses.replace(RUN_PRESETS[a.preset], n_clips=a.clips, batch=a.batch, world=a.world,
                              schedule="constant", steps=10**7, ckpt_every=10**9,
                              **({"lr": a.lr} if a.lr else {}))
    seeds = np.random.default_rng(run.seed).choice(1_000_000, size=a.clips, replace=False)
    clips = make_clips(seeds, model_preset(run.model).window_seconds, run.image_size, 0, run.world)
    log(f"{len(clips)} {run.world}-world clips")
    objectives = a.objectives.split(",")
    report = {"args": vars(a), "runs": {}}
    cache = out / "cache"                  # built once, timed apart, copied into each run's folder
    if out.exists():
        shutil.rmtree(out)
    build_cache(run, donor.semantic, sync, cache, log, clips, codec=donor.codec)
    for i, objective in enumerate(objectives):
        folder = out / objective
        folder.mkdir(parents=True)
        for f in CACHE_FILES:
            shutil.copy(cache / f, folder / f)
        r = dataclasses.replace(run, objective=objective)
        seconds = (a.budget - (time.perf_counter() - t_all) - 10 * (len(objectives) - i)) / (len(objectives) - i)
        log(f"{objective}: {seconds:.0f} s of training, compile included")
        pipe, hist = train_generator(r, donor.semantic, sync, folder, folder / "pipeline", resume=False,
                                     max_seconds=seconds, log=log, progress=False, clips=clips,
                                     codec=donor.codec)
        report["runs"][objective] = {"steps": pipe.meta["trained_steps"], "seconds": pipe.meta["train_seconds"],
                                     "last": hist[-1] if hist else None}
        if a.tar_to:
            with tarfile.open(Path(a.tar_to) / f"{objective}.tar", "w") as t:
                t.add(folder / "pipeline", arcname=objective)
        log(objective, json.dumps(report["runs"][objective]))
    (out / "report.json").write_text(json.dumps(report, indent=1, default=str))
    if a.tar_to:
        shutil.copy(out / "report.json", Path(a.tar_to) / "report.json")
    log("done")


if __name__ == "__main__":
    main()
