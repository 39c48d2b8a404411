"""Codec round trip (encode → decode) quality and decode speed, per decode setting.

Quality on held-out SynthFoley clips (the true audio through the codec, no model): onset recall
and precision within ±50 ms against the clip's merged events, spectral convergence of the
|STFT| and SWSD against the original. Speed: decode seconds and peak traced memory of numpy
allocations for 10 s, 60 s and 120 s latents.

    python benchmarks/codec.py [--clips 16] [--variants legacy,blocked] [--lengths 10,60,120]

Variants: legacy = the whole clip at once in float64 (block_frames=0, the codec before issue 20);
blocked = the default MelCodec; 'blocked-16' etc. = that with N Griffin-Lim iterations;
'blocked128' etc. = blocks of that many frames.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time
import tracemalloc

import numpy as np

from salsav_core import metrics
from salsav_core.codec import MelCodec, stft
from salsav_core.data.synthfoley import HELDOUT_SEED0, make_clip

SR = 44100


def variant(name: str) -> MelCodec:
    base, _, iters = name.partition("-")
    c = MelCodec(block_frames=0) if base == "legacy" else MelCodec()
    if base.startswith("blocked") and base[7:]:
        c = dataclasses.replace(c, block_frames=int(base[7:]))
    return dataclasses.replace(c, griffin_lim_iters=int(iters)) if iters else c


def quality(codec: MelCodec, clips) -> dict:
    rec, prec, sc, sw = [], [], [], []
    for clip in clips:
        z = codec.encode(clip.audio, SR)
        y = codec.decode(z)[:len(clip.audio)]
        true = metrics.merge_events([e.time for e in clip.events], 0.05)
        s = metrics.sync_scores(true, metrics.detect_onsets(y, SR), 0.05)
        rec.append(s["recall"])
        prec.append(s["precision"])
        T = z.shape[0]
        sc.append(metrics.spectral_convergence(np.abs(stft(clip.audio.astype(np.float64), T, 2048, 1024)),
                                               np.abs(stft(y.astype(np.float64), T, 2048, 1024))))
        sw.append(metrics.swsd(clip.audio, y, SR))
    rec, prec, sc, sw = map(np.asarray, (rec, prec, sc, sw))
    half = lambda x: 1.96 * x.std(ddof=1) / np.sqrt(len(x))   # noqa: E731
    return dict(recall=rec.mean(), recall_ci=half(rec), precision=prec.mean(), sc=sc.mean(),
                sc_ci=half(sc), swsd=sw.mean(), swsd_ci=half(sw),
                per_clip=dict(recall=rec, precision=prec, sc=sc, swsd=sw))


def paired(q: dict, base: dict) -> str:
    """Mean per-clip difference against the first variant, with its 95 % interval."""
    out = []
    for k in ("recall", "precision", "sc", "swsd"):
        d = q["per_clip"][k] - base["per_clip"][k]
        h = 1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
        out.append(f"{k} {d.mean():+.4f} [{d.mean() - h:+.4f}, {d.mean() + h:+.4f}]")
    return "; ".join(out)


def speed(codec: MelCodec, seconds: float) -> tuple[float, float, float]:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(codec.latent_frames(seconds), codec.n_mels)).astype(np.float32) * 0.5
    codec.decode(z)                                # warm caches (filterbanks, compiled blocks)
    t0, c0 = time.perf_counter(), time.process_time()
    codec.decode(z)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    tracemalloc.start()                                           # a second run, traced
    codec.decode(z)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return dt, cpu, peak / 2**20


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--clips", type=int, default=16)
    p.add_argument("--seconds", type=float, default=5.0, help="length of each quality clip")
    p.add_argument("--variants", default="legacy,blocked")
    p.add_argument("--lengths", default="10,60,120")
    p.add_argument("--speed-only", action="store_true")
    a = p.parse_args()
    clips = [] if a.speed_only else [make_clip(HELDOUT_SEED0 + 100 + i, a.seconds, 32)
                                     for i in range(a.clips)]
    lengths = [float(x) for x in a.lengths.split(",") if x]
    print(f"{a.clips} held-out clips of {a.seconds:g} s; ± = 95 % interval half-width over clips")
    print(f"load average {' / '.join(f'{x:.1f}' for x in os.getloadavg())}; decode: wall s / "
          "CPU s of this process (peak MB of numpy allocations)")
    print("| variant | onset recall | precision | spectral conv. | SWSD | "
          + " | ".join(f"decode {s:g} s" for s in lengths) + " |")
    print("|---|---|---|---|---|" + "---|" * len(lengths))
    base, notes = None, []
    for name in a.variants.split(","):
        codec = variant(name)
        q = None if a.speed_only else quality(codec, clips)
        if q is not None and base is not None:
            notes.append(f"- {name} − {first}, paired over the clips: {paired(q, base)}")
        elif q is not None:
            base, first = q, name
        sp = [speed(codec, s) for s in lengths]
        qs = "| | | |" if q is None else (
            f"{q['recall']:.3f} ± {q['recall_ci']:.3f} | {q['precision']:.3f} | "
            f"{q['sc']:.4f} ± {q['sc_ci']:.4f} | {q['swsd']:.5f} ± {q['swsd_ci']:.5f} |")
        print(f"| {name} (iters {codec.griffin_lim_iters}, block {codec.block_frames}) | {qs} "
              + " | ".join(f"{t:.2f} / {c:.2f} ({m:.0f})" for t, c, m in sp) + " |", flush=True)
    print("\n".join(notes))


if __name__ == "__main__":
    main()
