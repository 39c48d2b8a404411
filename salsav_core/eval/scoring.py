"""Pure scoring: per-segment sync/silence/SWSD records and their pooled aggregate.

- sync: every true onset against the onsets detected in the generated audio, a one-to-one
  matching within ±50 ms and ±25 ms, the median distance to the nearest onset, and a chance
  level (the onsets circularly shifted: same count and rhythm, broken timing);
- silence: the fraction of visible-but-soundless stretches kept quiet;
- SWSD (paper A.2) per clip, and a pooled Fréchet distance of log-mel frame statistics
  (`metrics.mel_stat_distance`: a spectral-statistics distance, NOT VGGish FAD).
"""
from __future__ import annotations

import numpy as np

from .. import metrics
from ..config import SAMPLE_RATE
from .bootstrap import bootstrap_ci

SR = SAMPLE_RATE


def nearest_distances(true_times, onsets) -> np.ndarray:
    """Seconds from each true event to its nearest onset (inf when there are no onsets)."""
    t, o = np.asarray(true_times, float).ravel(), np.asarray(onsets, float).ravel()
    if not len(o):
        return np.full(len(t), np.inf)
    return np.abs(o[None, :] - t[:, None]).min(axis=1) if len(t) else np.zeros(0)


def chance_matches(true_times, onsets, length: float, rng, n_shifts: int = 20,
                   tol: float = 0.05, margin: float = 0.25) -> float:
    """Mean matched count when the onsets are circularly shifted by δ ~ U[margin, length−margin]
    within [0, length): the count coincidence alone gives (a circular-shift null)."""
    t, o = np.asarray(true_times, float), np.asarray(onsets, float)
    if not len(t) or not len(o) or length <= 2 * margin or n_shifts < 1:
        return 0.0
    counts = [metrics.sync_scores(t, np.mod(o + d, length), tol)["n_matched"]
              for d in rng.uniform(margin, length - margin, n_shifts)]
    return float(np.mean(counts))


MERGE_S = 0.05      # events closer than this are one audible onset (the detector's min gap)


def score_segment(true_wave, gen_wave, true_times, onsets, spans, t0: float, t1: float, rng,
                  n_shifts: int = 20, with_swsd: bool = True, true_onsets=None, kinds=None) -> dict:
    """Counts and distances for [t0, t1) of one clip; event/onset times are in clip seconds.

    True events less than MERGE_S apart are grouped into one onset (`metrics.merge_events`);
    n_events/matched_events_50 score the raw events instead.
    Returns a record for `aggregate`: n_true, n_det, matched_50/25, chance_50/25 (expected
    matches under the circular-shift null), nearest (s, per event), spans, kept, swsd, and
    n_detectable/matched_detectable_50: the same over the events the detector finds in the
    true audio (a true-audio onset within ±50 ms; all events when true_onsets is None), and
    by_kind {kind: [raw events, events with an onset within ±50 ms]} when kinds (one per true
    time) are given.
    """
    a, b = int(round(t0 * SR)), int(round(t1 * SR))
    tw, gw = np.asarray(true_wave)[a:b], np.asarray(gen_wave)[a:b]
    raw = np.asarray([x for x in true_times if t0 <= x < t1]) - t0
    tt = metrics.merge_events(raw, MERGE_S)                # audible onsets (event groups)
    oo = np.asarray([x for x in onsets if t0 <= x < t1]) - t0
    m50 = metrics.sync_scores(tt, oo, 0.05)["n_matched"]
    det = tt if true_onsets is None else tt[nearest_distances(tt, np.asarray(true_onsets) - t0) <= 0.05]
    m50_det = metrics.sync_scores(det, oo, 0.05)["n_matched"]
    m25 = metrics.sync_scores(tt, oo, 0.025)["n_matched"]
    by_kind = {}
    if kinds is not None:
        inside = [(x - t0, k) for x, k in zip(true_times, kinds) if t0 <= x < t1]
        hit = nearest_distances([x for x, _ in inside], oo) <= 0.05
        for (_, k), h in zip(inside, hit):
            n_h = by_kind.setdefault(k, [0, 0])
            n_h[0] += 1
            n_h[1] += int(h)
    sp = [(max(s, t0) - t0, min(e, t1) - t0) for s, e in spans if e > t0 and s < t1 and min(e, t1) - max(s, t0) > 0.1]
    kept = metrics.silence_kept(gw, SR, sp) * len(sp) if sp else 0.0
    return dict(n_true=len(tt), n_det=len(oo), matched_50=m50, matched_25=m25,
                n_events=len(raw), matched_events_50=metrics.sync_scores(raw, oo, 0.05)["n_matched"],
                n_detectable=len(det), matched_detectable_50=m50_det,
                chance_50=chance_matches(tt, oo, t1 - t0, rng, n_shifts, 0.05),
                chance_25=chance_matches(tt, oo, t1 - t0, rng, n_shifts, 0.025),
                nearest=nearest_distances(tt, oo).tolist(), spans=len(sp), kept=float(kept),
                swsd=metrics.swsd(tw, gw, SR) if with_swsd else float("nan"), seconds=t1 - t0,
                by_kind=by_kind)


def ratio(a, b) -> float:
    return float(a) / float(b) if b else float("nan")


def _clipmean(records, num: str, den: str) -> float:
    v = [r[num] / r[den] for r in records if r[den]]
    return float(np.mean(v)) if v else float("nan")



def aggregate(records: list[dict], true_waves=None, gen_waves=None) -> dict:
    """Pool per-clip records: micro-averaged recall/precision (Σ matched / Σ events or onsets),
    median nearest distance over all events, pooled silence, mean SWSD, and (when waves are
    given) the pooled log-mel statistics distance."""
    s = lambda k: sum(r[k] for r in records)
    near = np.concatenate([np.asarray(r["nearest"], float) for r in records]) if records else np.zeros(0)
    out = {
        "sync_recall_50ms": ratio(s("matched_50"), s("n_true")),
        "sync_precision_50ms": ratio(s("matched_50"), s("n_det")),
        "sync_median_ms": float(1000 * np.median(near)) if len(near) else float("nan"),
        "silence_kept": ratio(s("kept"), s("spans")),
        "swsd": float(np.nanmean([r["swsd"] for r in records])) if records else float("nan"),
        "sync_recall_25ms": ratio(s("matched_25"), s("n_true")),
        "sync_recall_detectable_50ms": ratio(s("matched_detectable_50"), s("n_detectable")),
        "sync_recall_50ms_per_event": ratio(s("matched_events_50"), s("n_events")),
        "sync_precision_50ms_per_event": ratio(s("matched_events_50"), s("n_det")),
        "sync_recall_50ms_clipmean": _clipmean(records, "matched_50", "n_true"),
        "sync_precision_50ms_clipmean": _clipmean(records, "matched_50", "n_det"),
        "sync_precision_25ms": ratio(s("matched_25"), s("n_det")),
        "chance_recall_50ms": ratio(s("chance_50"), s("n_true")),
        "chance_precision_50ms": ratio(s("chance_50"), s("n_det")),
        "chance_recall_25ms": ratio(s("chance_25"), s("n_true")),
        "events": int(s("n_true")), "raw_events": int(s("n_events")), "onsets": int(s("n_det")),
        "silent_spans": int(s("spans")),
        "onsets_per_event": ratio(s("n_det"), s("n_true")), "clips": len(records),
        "ci95": bootstrap_ci(records),    # clip bootstrap of the pooled numbers above
    }
    kinds = {}
    for r in records:
        for k, (n, h) in r.get("by_kind", {}).items():
            kinds.setdefault(k, [0, 0])
            kinds[k][0] += n
            kinds[k][1] += h
    if kinds:   # per raw event: an onset within ±50 ms (not one-to-one), by event kind
        out["recall_50ms_by_kind"] = {k: ratio(h, n) for k, (n, h) in sorted(kinds.items())}
        out["events_by_kind"] = {k: n for k, (n, _) in sorted(kinds.items())}
    if true_waves is not None and gen_waves is not None and len(true_waves):
        out["mel_stat_distance"] = metrics.mel_stat_distance(
            np.concatenate(true_waves), np.concatenate(gen_waves), SR)
    return out
