"""Media normalisation for a blind study: every track in one format, one loudness, one length.

Tracks from any container with an audio stream (wav, flac, mp3, ogg, m4a, mp4, mkv, webm, ...)
are decoded by ffmpeg (the binary bundled with imageio-ffmpeg), resampled to one rate and
channel layout, trimmed or padded to their video's duration, loudness-normalised to a target
in LUFS (ITU-R BS.1770-4 / EBU R128, measured with pyloudnorm) and written as 16-bit PCM WAV.
A constant-rate encoding of the same duration makes every track of a clip the same size, byte
for byte, whatever system made it. Videos are re-encoded once without any audio stream and
without metadata. Streams are probed with PyAV.

    spec = MediaSpec(sample_rate=48000, channels=1, loudness_lufs=-23.0)
    dur = normalise_video("in.mp4", "out/clip.mp4")
    info = normalise_track("mmaudio/dog.m4a", "out/abc.wav", dur, spec)   # info["warnings"]
"""

from __future__ import annotations

import dataclasses
import math
import os
import subprocess
from pathlib import Path

import numpy as np
import soundfile

AUDIO_MIME = "audio/wav"
VIDEO_MIME = "video/mp4"
MIN_LOUDNESS_S = 0.4  # one BS.1770 gating block


class MediaError(ValueError):
    """A media file cannot be read or converted; the message names the file."""


@dataclasses.dataclass(frozen=True)
class MediaSpec:
    """The one format every served track is converted to."""
    sample_rate: int = 48000
    channels: int = 1                      # 1: mono (stereo inputs are downmixed), 2: stereo
    loudness_lufs: float | None = -23.0    # integrated loudness target; None: no normalisation
    peak_dbfs: float = -1.0                # sample peaks above this are limited
    duration_tolerance: float = 0.1        # s; a longer mismatch with the video is reported
    fade_ms: float = 10.0                  # fade-out where a track is cut

    def __post_init__(self):
        if self.sample_rate not in (16000, 22050, 24000, 32000, 44100, 48000):
            raise MediaError(f"media sample_rate {self.sample_rate} is not a standard rate")
        if self.channels not in (1, 2):
            raise MediaError("media channels must be 1 or 2")
        if self.loudness_lufs is not None and not -40.0 <= self.loudness_lufs <= -5.0:
            raise MediaError(f"media loudness {self.loudness_lufs} LUFS is outside -40..-5")


def ffmpeg_exe() -> str:
    import imageio_ffmpeg  # lazy: only study creation needs the binary
    return imageio_ffmpeg.get_ffmpeg_exe()


def probe(path: str | os.PathLike) -> dict:
    """{"format", "duration", "audio": [codec, ...], "video": [codec, ...]} of a media file."""
    import av  # lazy: PyAV is needed only when a study is created
    try:
        with av.open(str(path)) as c:
            out = {"format": c.format.name, "audio": [], "video": [], "duration": None}
            durs = []
            for s in c.streams:
                if s.type in ("audio", "video"):
                    out[s.type].append(s.codec_context.name)
                    if s.duration is not None and s.time_base is not None:
                        durs.append((s.type, float(s.duration * s.time_base)))
            vd = [d for t, d in durs if t == "video"]
            if vd:
                out["duration"] = vd[0]
            elif durs:
                out["duration"] = durs[0][1]
            elif c.duration is not None:
                out["duration"] = c.duration / 1_000_000
            return out
    except av.error.FFmpegError as e:
        raise MediaError(f"cannot read {path}: {type(e).__name__}") from None


TIMEOUT_S = 300.0   # one ffmpeg call on a study file; a hung or endless one is killed


def _run(cmd: list[str], what: str, timeout: float = TIMEOUT_S) -> bytes:
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:   # subprocess.run has killed and reaped the child
        raise MediaError(f"{what}: ffmpeg took longer than {timeout:g} s and was stopped") from None
    if r.returncode != 0:
        err = r.stderr.decode("utf-8", "replace")
        if "matches no streams" in err:
            kind = "audio" if "0:a:0" in cmd else "video"
            raise MediaError(f"{what}: the file has no {kind} stream")
        tail = err.strip().splitlines()[-1:] or ["ffmpeg failed"]
        raise MediaError(f"{what}: {tail[0][:200]}")
    return r.stdout


def decode_audio(path: str | os.PathLike, sample_rate: int, channels: int) -> np.ndarray:
    """The first audio stream of any container as float32 (n, channels) at `sample_rate`."""
    path = Path(path)
    if not path.is_file():
        raise MediaError(f"missing file: {path}")
    raw = _run([ffmpeg_exe(), "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-vn",
                "-ac", str(channels), "-ar", str(sample_rate), "-f", "f32le", "-"], f"cannot decode {path}")
    wave = np.frombuffer(raw, np.float32).reshape(-1, channels)
    if len(wave) == 0:
        raise MediaError(f"{path} has an empty audio stream")
    return wave


def normalise_video(src: str | os.PathLike, dst: str | os.PathLike) -> float:
    """Re-encode `src` as H.264 mp4 with no audio stream and no metadata; returns its duration."""
    src, dst = Path(src), Path(dst)
    if not src.is_file():
        raise MediaError(f"missing file: {src}")
    dst.parent.mkdir(parents=True, exist_ok=True)
    _run([ffmpeg_exe(), "-nostdin", "-v", "error", "-y", "-i", str(src), "-map", "0:v:0", "-an", "-sn",
          "-dn", "-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact",
          "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
          "-vf", "scale=trunc(iw/2)*2:trunc(ih/2)*2", "-movflags", "+faststart", str(dst)],
         f"cannot re-encode {src}")
    info = probe(dst)
    if info["audio"] or not info["video"] or not info["duration"]:
        raise MediaError(f"re-encoding {src} did not give one silent video stream")
    return float(info["duration"])


def integrated_loudness(wave: np.ndarray, sample_rate: int) -> float:
    """BS.1770-4 integrated loudness in LUFS (-inf for silence or clips shorter than 0.4 s)."""
    import pyloudnorm  # lazy: needed only when a study is created or checked
    if len(wave) < int(MIN_LOUDNESS_S * sample_rate) or not np.any(wave):
        return -math.inf
    return float(pyloudnorm.Meter(sample_rate).integrated_loudness(wave.astype(np.float64)))


def limit_peaks(wave: np.ndarray, sample_rate: int, peak: float, window_ms: float = 4.0) -> np.ndarray:
    """A smooth gain that keeps |wave| <= peak (minimum filter, then a moving average of the same
    window, which never exceeds the needed gain); untouched where no sample is above `peak`."""
    from scipy.ndimage import minimum_filter1d, uniform_filter1d
    level = np.abs(wave).max(axis=1)
    need = np.minimum(1.0, peak / np.maximum(level, 1e-12))
    if need.min() >= 1.0:
        return wave
    w = max(3, int(window_ms / 1000 * sample_rate) | 1)
    gain = uniform_filter1d(minimum_filter1d(need, w, mode="nearest"), w, mode="nearest")
    return (wave * np.minimum(gain, need)[:, None]).astype(np.float32)


def fit_length(wave: np.ndarray, n: int, sample_rate: int, fade_ms: float) -> np.ndarray:
    """Trim (with a short fade-out at the cut) or zero-pad to exactly n samples."""
    if len(wave) > n:
        out = wave[:n].copy()
        k = min(n, int(fade_ms / 1000 * sample_rate))
        if k > 0:
            out[n - k:] *= np.linspace(1.0, 0.0, k, dtype=np.float32)[:, None]
        return out
    return np.concatenate([wave, np.zeros((n - len(wave), wave.shape[1]), np.float32)])


def loudness_normalise(wave: np.ndarray, spec: MediaSpec) -> tuple[np.ndarray, dict]:
    """Gain to the target loudness with peak limiting; a couple of passes bring it within 0.05 LU."""
    sr = spec.sample_rate
    lufs_in = integrated_loudness(wave, sr)
    info = {"lufs_in": None if math.isinf(lufs_in) else round(lufs_in, 2), "gain_db": 0.0, "limited": False}
    if spec.loudness_lufs is None:
        return wave, info
    if math.isinf(lufs_in):
        info["warning"] = "silent or shorter than 0.4 s: loudness not normalised"
        return wave, info
    peak = 10 ** (spec.peak_dbfs / 20)
    out, total_db, cur = wave, 0.0, lufs_in
    for _ in range(4):
        total_db += spec.loudness_lufs - cur
        out = wave * np.float32(10 ** (total_db / 20))
        if np.abs(out).max() > peak:
            out, info["limited"] = limit_peaks(out, sr, peak), True
        cur = integrated_loudness(out, sr)
        if abs(cur - spec.loudness_lufs) < 0.05:
            break
    info.update(gain_db=round(total_db, 2), lufs_out=round(cur, 2))
    if abs(cur - spec.loudness_lufs) > 0.5:
        info["warning"] = (f"reached {cur:.1f} LUFS, not {spec.loudness_lufs:g}: the peak limit "
                           f"({spec.peak_dbfs:g} dBFS) allows no more")
    return out.astype(np.float32), info


def write_wav(path: str | os.PathLike, wave: np.ndarray, sample_rate: int) -> None:
    """16-bit PCM WAV: the only audio format the study serves."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path), np.clip(wave, -1.0, 1.0), sample_rate, subtype="PCM_16", format="WAV")


def prepare_track(wave: np.ndarray, duration: float, spec: MediaSpec) -> tuple[np.ndarray, dict]:
    """Fit a decoded wave to `duration` seconds, then loudness-normalise it; (wave, info)."""
    sr = spec.sample_rate
    n = int(round(duration * sr))
    src_s = len(wave) / sr
    info = {"source_duration": round(src_s, 4), "trimmed_s": round(max(0.0, src_s - duration), 4),
            "padded_s": round(max(0.0, duration - src_s), 4), "warnings": []}
    if abs(src_s - duration) > spec.duration_tolerance:
        verb = "trimmed" if src_s > duration else "padded with silence"
        info["warnings"].append(f"track lasts {src_s:.3f} s but the video {duration:.3f} s "
                                f"(tolerance {spec.duration_tolerance} s): {verb}")
    wave, loud = loudness_normalise(fit_length(wave, n, sr, spec.fade_ms), spec)
    if "warning" in loud:
        info["warnings"].append(loud.pop("warning"))
    info.update(loud)
    return wave, info


def normalise_track(src: str | os.PathLike, dst: str | os.PathLike, duration: float,
                    spec: MediaSpec) -> dict:
    """Decode `src`, fit it to `duration`, normalise, write `dst` (WAV); returns the media info."""
    wave = decode_audio(src, spec.sample_rate, spec.channels)
    fmt = probe(src)
    wave, info = prepare_track(wave, duration, spec)
    write_wav(dst, wave, spec.sample_rate)
    info.update(source_format=fmt["format"], source_codec=(fmt["audio"] or [""])[0],
                sample_rate=spec.sample_rate, channels=spec.channels)
    return info


def shift_track(src_wav: str | os.PathLike, dst: str | os.PathLike, offset: float, spec: MediaSpec) -> dict:
    """An offset attention check: a normalised track delayed by `offset` s (negative: advanced),
    same length, normalised again."""
    wave, sr = soundfile.read(str(src_wav), dtype="float32", always_2d=True)
    shift = min(len(wave), int(round(abs(offset) * sr)))
    pad = np.zeros((shift, wave.shape[1]), np.float32)
    out = np.concatenate([pad, wave])[: len(wave)] if offset >= 0 else np.concatenate([wave[shift:], pad])
    out, info = loudness_normalise(out, spec)
    write_wav(dst, out, sr)
    info.pop("warning", None)
    return {**info, "offset_s": offset}
