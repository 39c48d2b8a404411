"""Section `steps` (Fig. 5 left, Table 2): every step count on the same clips and noise, the
paired comparisons between rows, and `--baseline` (another checkpoint on the same clips)."""
from __future__ import annotations

import numpy as np

from .bootstrap import paired_change
from .config import EvalConfig
from .generation import clip_conditions, log, run_clips


def eval_steps(pipe, clips, conds, cfg: EvalConfig, rng, recs: dict) -> dict:
    """Every step count on the same clips and noise; recs receives the per-clip records by
    step count (for `paired_rows`), as it does in eval_controls and eval_ablations."""
    out = {}
    for s in cfg.steps:
        agg, _, secs, recs[str(s)] = run_clips(pipe, clips, conds, s, cfg, rng)
        per_clip = float(np.mean(secs))
        agg.update(sample_seconds_per_clip=per_clip, ms_per_step=1000 * per_clip / s,
                   rtf=per_clip / cfg.duration)
        out[str(s)] = agg
        log(f"steps {s:2d}: R@50 {agg['sync_recall_50ms']:.3f} P@50 {agg['sync_precision_50ms']:.3f} "
             f"SWSD {agg['swsd']:.4f} ({per_clip:.2f} s/clip)")
    return out



def paired_rows(recs: dict, cfg: EvalConfig) -> dict:
    """Paired comparisons on the same clips and noise: every step count against the largest
    ("8 vs 32 steps": the paper's claim), and the model at control_steps against each control
    and ablation ("8 steps vs shifted")."""
    out = {}
    counts = sorted(int(k) for k in recs if k.isdigit())
    if len(counts) > 1:
        top = counts[-1]
        for s in counts[:-1]:
            out[f"{s} vs {top} steps"] = paired_change(recs[str(s)], recs[str(top)])
    model = recs.get(str(cfg.control_steps))
    for name in ("shifted", "other_video", "no_sync", "no_semantic"):
        if model is not None and name in recs:
            out[f"{cfg.control_steps} steps vs {name}"] = paired_change(model, recs[name])
    return out


def eval_baseline(baseline, clips, cfg: EvalConfig, recs: dict) -> tuple[dict, dict]:
    """The step rows of another checkpoint on the same clips, captions and noise (its own
    encoders read the video), and each step count paired against it: "8 steps vs baseline"."""
    conds = [clip_conditions(baseline, c.frames, c.caption, cfg) for c in clips]
    b_recs: dict = {}
    rows = eval_steps(baseline, clips, conds, cfg, np.random.default_rng(0), b_recs)
    paired = {f"{s} steps vs baseline": paired_change(recs[str(s)], b_recs[str(s)]) for s in cfg.steps}
    return rows, paired

