"""`salsav eval`: objective evaluation of a pipeline on held-out SynthFoley clips.

The command line: parse the options into an `EvalConfig`, load the pipeline(s), run, write the
JSON (before printing, so a long run is never lost), print the table.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np

from .. import sampler
from ..data.synthfoley import make_clip
from ..pipeline import DEFAULT_CHECKPOINT, Pipeline
from .config import SECTIONS, EvalConfig, EvalError
from .generation import log
from .heldout import section as heldout
from .report import format_table
from .run import run_eval


def _floats(s: str) -> tuple:
    return tuple(float(x) for x in s.split(",") if x.strip())


def _ints(s: str) -> tuple:
    return tuple(int(x) for x in s.split(",") if x.strip())


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="salsav eval", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    d = EvalConfig()
    p.add_argument("--checkpoint", default=None, help="checkpoint folder or Hub repo (default: bundled)")
    p.add_argument("--clips", type=int, default=d.clips, help="5 s held-out clips")
    p.add_argument("--steps", type=_ints, default=d.steps, help="comma-separated step counts")
    p.add_argument("--guidance", type=float, default=d.guidance)
    p.add_argument("--schedule", choices=sampler.SCHEDULES, default=d.schedule,
                   help="sampler step sizes (uniform: the paper's)")
    p.add_argument("--out", default=None, help="write the JSON here")
    p.add_argument("--baseline", default=None,
                   help="another checkpoint to run the step rows on too, paired against this one "
                        "(same clips and noise): is a new checkpoint better?")
    p.add_argument("--seed0", type=int, default=d.seed0, help="first held-out clip seed (>= 10**9)")
    p.add_argument("--duration", type=float, default=d.duration, help="seconds per clip")
    p.add_argument("--control-steps", type=int, default=d.control_steps)
    p.add_argument("--cond-clips", type=int, default=d.cond_clips)
    p.add_argument("--cond-seconds", type=float, default=d.cond_seconds)
    p.add_argument("--cond-refs", type=_floats, default=d.cond_refs, help="reference seconds")
    p.add_argument("--long-clips", type=int, default=d.long_clips)
    p.add_argument("--long-seconds", type=float, default=d.long_seconds)
    p.add_argument("--segment-seconds", type=float, default=d.segment_seconds)
    p.add_argument("--chance-shifts", type=int, default=d.chance_shifts)
    p.add_argument("--prompt", choices=("caption", "none"), default=d.prompt)
    p.add_argument("--skip", default="", help=f"comma-separated sections to skip: {','.join(SECTIONS)} "
                                              "(also accepts long_form)")
    heldout.add_arguments(p)
    return p


def config_from_args(a) -> EvalConfig:
    skip = {s.strip().replace("long_form", "long") for s in a.skip.split(",") if s.strip()}
    return EvalConfig(clips=a.clips, steps=tuple(a.steps), guidance=a.guidance,
                      schedule=a.schedule, seed0=a.seed0,
                      duration=a.duration, control_steps=a.control_steps, cond_clips=a.cond_clips,
                      cond_seconds=a.cond_seconds, cond_refs=tuple(a.cond_refs),
                      long_clips=a.long_clips, long_seconds=a.long_seconds,
                      segment_seconds=a.segment_seconds, chance_shifts=a.chance_shifts,
                      prompt=a.prompt, skip=frozenset(skip)).check()


def _jsonable(x):
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return float(x) if math.isfinite(x) else None
    if isinstance(x, np.integer):
        return int(x)
    return x


def _synthfoley_sound(seed0: int):
    """(i, duration) → the true audio of SynthFoley test clip seed0 + i: the held-out
    section's training-world SWSD reference."""
    return lambda i, duration: make_clip(seed0 + i, duration).audio


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        cfg = config_from_args(a)
        hcfg = heldout.config_from_args(a, cfg)
    except EvalError as e:
        print(f"salsav eval: {e}", file=sys.stderr)
        return 2
    ckpt = a.checkpoint or DEFAULT_CHECKPOINT
    log(f"loading {ckpt}")
    pipe = Pipeline.from_pretrained(ckpt)
    baseline = None
    if a.baseline:
        log(f"loading the baseline {a.baseline}")
        baseline = Pipeline.from_pretrained(a.baseline)
    try:
        ev = {"meta": {"checkpoint": str(ckpt), "wall_seconds": 0.0}}
        if a.world != "heldout":
            ev = run_eval(pipe, cfg, checkpoint=str(ckpt), baseline=baseline,
                          baseline_name=str(a.baseline or ""))
        if hcfg is not None:
            ev["heldout"] = heldout.eval_heldout(pipe, hcfg, baseline=baseline,
                                                 training_sound=_synthfoley_sound(cfg.seed0))
            ev["meta"]["wall_seconds"] += ev["heldout"]["meta"]["wall_seconds"]
        ev = _jsonable(ev)
    except EvalError as e:
        print(f"salsav eval: {e}", file=sys.stderr)
        return 2
    if a.out:   # written before the table is printed, so a long run is never lost
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        with open(a.out, "w") as f:
            json.dump(ev, f, indent=1)
        log(f"wrote {a.out} ({ev['meta']['wall_seconds']:.0f} s)")
    text = format_table(ev)
    if "heldout" in ev:
        text = "\n\n".join(t for t in (text, heldout.format_heldout(ev["heldout"])) if t)
    print(text)
    return 0

