"""Section `conditioning` (Fig. 6): true audio of [0, L) as the reference, the rest generated."""
from __future__ import annotations

import numpy as np

from .. import metrics
from ..data.synthfoley import make_clip
from .bootstrap import paired_change, paired_mean_change
from .config import EvalConfig, check_unseen_tail
from .generation import clip_conditions, log, event_times, decode, true_onsets
from .scoring import SR, aggregate, score_segment


def eval_conditioning(pipe, cfg: EvalConfig, rng, seconds: float | None = None,
                      offset: int | None = None) -> dict:
    """Fig. 6: reference = the true audio of [0, L), generation of the rest.

    Every L is scored on the same unseen tail [max(cond_refs), end) (`swsd`, sync, ...), so
    the rows compare like with like; `swsd_unseen` is the paper's variant, each L on its own
    unseen part [L, end). `seconds` = None: clips one model window long (the paper's setting:
    the whole clip is in the model's context); else clips of that length (long-form
    extension, later windows see only the previous window's overlap)."""
    tail0 = max(cfg.cond_refs)
    in_window = seconds is None
    seconds = pipe.cfg.window_seconds if in_window else seconds
    offset = (cfg.COND_WINDOW_OFFSET if in_window else cfg.COND_OFFSET) if offset is None else offset
    check_unseen_tail(seconds, cfg.cond_refs, "conditioning clips")
    clips = [make_clip(cfg.seed0 + offset + i, seconds) for i in range(cfg.cond_clips)]
    conds = [clip_conditions(pipe, c.frames, c.caption, cfg) for c in clips]
    out = {}
    base = None                                   # (records, own SWSD) of the first reference
    for L in sorted(cfg.cond_refs):               # the first is the shortest: the paired base
        recs, tw, gw, own = [], [], [], []
        for i, (clip, cond) in enumerate(zip(clips, conds)):
            ref = pipe.codec.encode(clip.audio[:int(round(L * SR))], SR) if L > 0 else None
            lat = pipe.sample(cond, clip.duration, cfg.cond_steps, cfg.guidance, seed=i,
                              ref_latent=ref, ref_start=0.0, schedule=cfg.schedule)
            wave = decode(pipe, lat, clip.duration)
            on = metrics.detect_onsets(wave, SR)
            recs.append(score_segment(clip.audio, wave, event_times(clip), on, clip.silent_spans,
                                      tail0, clip.duration, rng, cfg.chance_shifts,
                                      true_onsets=true_onsets(clip)))
            a, b = int(round(tail0 * SR)), int(round(L * SR))
            tw.append(clip.audio[a:])
            gw.append(wave[a:])
            own.append(metrics.swsd(clip.audio[b:], wave[b:], SR))
        agg = aggregate(recs, tw, gw)
        agg.update(reference_seconds=L, scored_from_s=tail0, scored_to_s=seconds,
                   swsd_unseen=float(np.mean(own)), clip_seconds=seconds)
        if base is None:
            base = (recs, own, L)
        elif len(recs) > 1:      # same clips and noise as the first (shortest) reference
            agg["paired_vs_first"] = {"reference_seconds": base[2], **paired_change(recs, base[0])}
            agg["swsd_unseen_vs_first"] = paired_mean_change(own, base[1])
        out[f"{L:g}"] = agg
        log(f"conditioning ({seconds:g} s clips) ref {L:g} s: SWSD tail {agg['swsd']:.4f} "
             f"unseen {agg['swsd_unseen']:.4f} R@50 {agg['sync_recall_50ms']:.3f}")
    return out

