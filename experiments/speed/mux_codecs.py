"""Which audio encoder should the mux use? Encode time and what survives the round trip (issue 20).

For each encoder of ENCODERS: held-out SynthFoley clips' true audio is muxed into a
test-pattern video (the product's `video_mux.mux` arguments, the encoder swapped) and read back
(`video_mux.read_audio`). Reported per encoder: onset recall and precision within ±50 ms
against the clip's merged events, SWSD against the original wave, the offset of the decoded
audio (cross-correlation lag, ms; the mp4 edit list should hide the encoder's priming), and
the mux time of a 10 s generated-like track (two clips through the codec; best of --reps). Differences against the first
encoder are paired over the clips, with 95 % intervals.

    python experiments/speed/mux_codecs.py [--clips 24] [--codecs flac,aac,mp3,mp3-fast] [--reps 7]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from salsav_core import metrics, video_mux
from salsav_core.codec import MelCodec
from salsav_core.data.synthfoley import HELDOUT_SEED0, make_clip
from salsav_core.video_probe import probe

SR = 44100
ENCODERS = {
    "flac": ["-c:a", "flac", "-sample_fmt", "s16"],                     # the product's since 842b358
    "aac": ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k"],        # the product's before
    "mp3": ["-c:a", "libmp3lame", "-b:a", "192k"],
    "mp3-fast": ["-c:a", "libmp3lame", "-b:a", "192k", "-compression_level", "7"],
}


def mux(video: Path, x: np.ndarray, out: Path, info, codec: str) -> Path:
    """`video_mux.mux`'s ffmpeg call (video stream copied, wave piped in) with another encoder."""
    r = video_mux.run_ffmpeg(["-y", "-v", "error", "-i", str(video), "-f", "f32le", "-ar", str(SR),
                              "-ac", "1", "-i", "pipe:0", "-map", "0:v:0", "-map", "1:a:0", "-c:v", "copy",
                              *ENCODERS[codec], "-t", f"{info.duration:.6f}", "-movflags", "+faststart",
                              str(out)], input=np.clip(x, -1, 1).astype("<f4").tobytes())
    if r.returncode:
        raise SystemExit(r.stderr.decode()[-300:])
    return out


def pattern(path: Path, seconds: float) -> Path:
    if not path.exists():
        r = video_mux.run_ffmpeg(["-y", "-v", "error", "-f", "lavfi", "-i",
                                  f"testsrc=size=320x240:rate=24:duration={seconds:g}",
                                  "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "veryfast",
                                  str(path)])
        if r.returncode:
            raise SystemExit(r.stderr.decode()[-300:])
    return path


def lag_ms(ref: np.ndarray, out: np.ndarray, max_ms: float = 50.0) -> float:
    """Where `out` best matches `ref`, in ms (positive: out is late)."""
    m = int(max_ms * SR / 1000)
    n = min(len(ref), len(out)) - 2 * m
    a = ref[m:m + n]
    c = [float(np.dot(a, out[m + k:m + k + n])) for k in range(-m, m + 1)]
    return (int(np.argmax(c)) - m) * 1000.0 / SR


def round_trip(codec: str, clips, video: Path, work: Path) -> dict:
    info = probe(video)
    rec, prec, sw, lag = [], [], [], []
    for i, clip in enumerate(clips):
        x = clip.audio.astype(np.float32)
        if x.ndim == 2:
            x = x.mean(axis=1)
        out = mux(video, x, work / f"{codec}-{i}.mp4", info, codec)
        y = video_mux.read_audio(out, SR)[:len(x)]
        y = np.pad(y, (0, len(x) - len(y)))
        true = metrics.merge_events([e.time for e in clip.events], 0.05)
        s = metrics.sync_scores(true, metrics.detect_onsets(y, SR), 0.05)
        rec.append(s["recall"])
        prec.append(s["precision"])
        sw.append(metrics.swsd(x, y, SR))
        lag.append(lag_ms(x, y))
    return {k: np.asarray(v) for k, v in (("recall", rec), ("precision", prec), ("swsd", sw), ("lag", lag))}


def mux_time(codec: str, wave: np.ndarray, video: Path, work: Path, reps: int) -> float:
    info = probe(video)
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        mux(video, wave, work / f"t-{codec}.mp4", info, codec)
        ts.append(time.perf_counter() - t0)
    return min(ts)


def ci(d: np.ndarray) -> str:
    h = 1.96 * d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else float("nan")
    return f"{d.mean():+.4f} [{d.mean() - h:+.4f}, {d.mean() + h:+.4f}]"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=24)
    p.add_argument("--codecs", default=",".join(ENCODERS))
    p.add_argument("--reps", type=int, default=7)
    a = p.parse_args()
    codecs = [c for c in a.codecs.split(",") if c]
    clips = [make_clip(HELDOUT_SEED0 + 100 + i, 5.0, 32) for i in range(a.clips)]
    # a generated-like 10 s track: two held-out clips through the codec (Griffin-Lim phase, as
    # generated audio has; AAC takes longer on it than on the clean originals)
    codec = MelCodec()
    wave = np.concatenate([codec.decode(codec.encode(c.audio, SR))[:len(c.audio)] for c in clips[:2]])
    with tempfile.TemporaryDirectory() as d:
        work = Path(d)
        v5, v10 = pattern(work / "p5.mp4", 5.0), pattern(work / "p10.mp4", 10.0)
        print(f"{a.clips} held-out clips of 5 s; load average "
              f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())}")
        print("| encoder | mux 10 s (best of %d) | onset recall | precision | SWSD | offset ms (min / max) |"
              % a.reps)
        print("|---|---|---|---|---|---|")
        res = {}
        for c in codecs:
            t = mux_time(c, wave, v10, work, a.reps)
            q = res[c] = round_trip(c, clips, v5, work)
            print(f"| {c} | {t:.3f} s | {q['recall'].mean():.3f} | {q['precision'].mean():.3f} | "
                  f"{q['swsd'].mean():.5f} | {q['lag'].min():+.2f} / {q['lag'].max():+.2f} |", flush=True)
        for c in codecs[1:]:
            print(f"- {c} − {codecs[0]}, paired: " + "; ".join(
                f"{k} {ci(res[c][k] - res[codecs[0]][k])}" for k in ("recall", "precision", "swsd")))


if __name__ == "__main__":
    main()
