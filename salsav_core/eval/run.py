"""`run_eval`: every section (minus cfg.skip) on one pipeline -> the JSON-ready result dict."""
from __future__ import annotations

import os
import platform
import subprocess
import time
from dataclasses import asdict
from pathlib import Path

import jax
import numpy as np

from ..data.synthfoley import make_clip
from .conditioning import eval_conditioning
from .config import EvalConfig, EvalError, check_unseen_tail
from .controls import eval_ablations, eval_controls
from .generation import clip_conditions
from .long_form import eval_long
from .reference import eval_reference
from .steps import eval_baseline, eval_steps, paired_rows


def _machine() -> dict:
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(), "jax": jax.__version__,
            "devices": [str(d) for d in jax.devices()], "git_commit": commit}



def run_eval(pipe, cfg: EvalConfig, checkpoint: str = "", baseline=None,
             baseline_name: str = "") -> dict:
    """All sections (minus cfg.skip) → the JSON-ready result dict. With `baseline` (a
    Pipeline) the step rows are also run on it and paired against the model's."""
    cfg.check()
    if baseline is not None and "steps" in cfg.skip:
        raise EvalError("a baseline is compared on the step rows: do not skip 'steps'")
    if "conditioning" not in cfg.skip:
        check_unseen_tail(pipe.cfg.window_seconds, cfg.cond_refs, "the model's window")
    t_all = time.perf_counter()
    rng = np.random.default_rng(0)
    seeds = [cfg.seed0 + i for i in range(cfg.clips)]
    clips = [make_clip(s, cfg.duration) for s in seeds]
    conds = [clip_conditions(pipe, c.frames, c.caption, cfg) for c in clips]
    pipe.sample(conds[0], cfg.duration, 1, cfg.guidance, seed=0)   # compile outside the timings
    ev: dict = {}
    recs: dict = {}                                   # per-clip records by row, same clips
    if "steps" not in cfg.skip:
        ev["steps"] = eval_steps(pipe, clips, conds, cfg, rng, recs)
    if "controls" not in cfg.skip:
        ev["controls"] = eval_controls(pipe, clips, cfg, rng, recs)
        ev["ablations"] = eval_ablations(pipe, clips, conds, cfg, rng, recs)
    paired = paired_rows(recs, cfg)
    if baseline is not None:
        rows, vs = eval_baseline(baseline, clips, cfg, recs)
        ev["baseline"] = {"checkpoint": baseline_name, "steps": rows}
        paired.update(vs)
    if paired:
        ev["paired"] = paired
    if "reference" not in cfg.skip:
        ev["reference"] = eval_reference(pipe, clips, cfg, rng)
    if "conditioning" not in cfg.skip:
        ev["conditioning"] = eval_conditioning(pipe, cfg, rng)
        ev["conditioning_long"] = eval_conditioning(pipe, cfg, rng, seconds=cfg.cond_seconds)
    if "long" not in cfg.skip:
        ev["long_form"] = eval_long(pipe, cfg, rng)
    c = asdict(cfg)
    c["skip"] = sorted(cfg.skip)
    ev["meta"] = {
        "checkpoint": checkpoint, "config": c, "seeds": seeds,
        "conditioning_seeds": [cfg.seed0 + o + i for o in (cfg.COND_WINDOW_OFFSET, cfg.COND_OFFSET)
                               for i in range(cfg.cond_clips)],
        "long_form_seeds": [cfg.seed0 + cfg.LONG_OFFSET + i for i in range(cfg.long_clips)],
        "wall_seconds": time.perf_counter() - t_all, "date": time.strftime("%Y-%m-%d %H:%M:%S"),
        "machine": _machine(), "generator": pipe.cfg.to_dict(),
        "notes": {
            "sync": "one-to-one matching of true onsets to detected onsets within ±50/±25 ms; "
                    "a true onset is a group of SynthFoley events less than 50 ms apart "
                    "(metrics.merge_events: simultaneous strikes are one sound); "
                    "sync_median_ms = median over true onsets of the distance to the nearest "
                    "detected onset; *_per_event: the same matching against every raw event",
            "detectable": "sync_recall_detectable_50ms: recall over the events the detector finds "
                          "in the true audio (a true-audio onset within ±50 ms); *_clipmean: the "
                          "mean of per-clip ratios (the others pool counts over clips)",
            "chance": "circular-shift null: the generated onsets shifted by δ~U[0.25, L−0.25] s "
                      "(mod L), mean matches over shifts",
            "mel_stat_distance": "Fréchet distance of pooled log-mel frame statistics; NOT VGGish FAD",
            "controls": "same clips, same caption and noise; video shifted by shift_seconds or "
                        "another clip's video; scored against the clip's own truth",
            "ablations": "same clips, caption and noise; the sync (or semantic) features replaced "
                         "by the learned null embedding in both CFG branches",
            "conditioning": "clips one model window long (the paper's setting: the whole clip "
                            "is in context); reference = true audio of [0, L) placed at 0; "
                            "scored on the common unseen tail [max(cond_refs), end); "
                            "swsd_unseen: each L on its own unseen part [L, end); "
                            "paired_vs_first / swsd_unseen_vs_first: each L against the "
                            "shortest reference (0 s) on the same clips and noise",
            "conditioning_long": "the same on cond_seconds clips generated by long-form extension "
                                 "(windows after the first see only the previous overlap)",
            "long_form": "iterative = the product's window-by-window extension; single_pass = "
                         "one window of the whole clip",
            "rtf": "sampling wall seconds / audio seconds (decode excluded), this machine",
            "ci95": "95 % percentile intervals from 1,000 resamples of the clips (with "
                    "replacement) of the pooled numbers",
            "paired": "A vs B on the same clips and noise: relative change A/B - 1 and difference "
                      "A - B, with 95 % intervals from a paired clip bootstrap",
            "baseline": "--baseline: another checkpoint's step rows on the same clips, captions "
                        "and noise (its own encoders read the video); paired as 'N steps vs baseline'",
        },
    }
    return ev
