"""Video I/O through the ffmpeg that imageio-ffmpeg bundles (moviepy parses the header).

- `probe(path)` → VideoInfo (duration of the *video stream*, fps, displayed size, audio?).
- `read_frames(path, fps, size, start, duration)` → (T, size, size, 3) uint8, frame i is the
  source frame on screen at start + i/fps (the last one with pts ≤ that time), for any
  source rate, VFR included; ffmpeg applies rotation metadata (autorotate), then the
  shorter side is scaled to `size` and the centre cropped.
- `read_audio(path, sr)` → (n,) float32 mono (channels averaged) or None.
- `mux(video, wave, sr, out)` → the original video stream copied, the wave as AAC, trimmed
  or padded to the video stream's duration (re-encodes the video only if copying fails).

Every failure a user can cause raises `VideoError` with one plain sentence.
"""
from __future__ import annotations

import os
import queue
import re
import subprocess
import tempfile
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from salsav_core.config import num_frames


class VideoError(ValueError):
    """A video that cannot be used (message safe to show a user, no traceback)."""


@dataclass(frozen=True)
class VideoInfo:
    duration: float        # seconds of the video stream (first pts to last pts + its duration)
    fps: float             # nominal frame rate (average for VFR)
    width: int             # displayed size, after rotation
    height: int
    has_audio: bool
    has_video: bool
    rotation: int          # degrees from the display matrix (ffmpeg applies it when reading)
    n_frames: int = 0      # video packets


def ffmpeg_exe() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def _run(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
                          capture_output=True, **kw)


def _name(path) -> str:
    return Path(path).name


def _packets(path: str, stream: str = "v:0") -> tuple[list[tuple[int, int, str]], Fraction, str]:
    """(pts, duration, md5) of every packet of one stream, its time base and ffmpeg's log.
    Reads the container only (no decoding)."""
    r = _run(["-v", "error", "-i", path, "-map", f"0:{stream}", "-c", "copy", "-f", "framemd5", "-"],
             text=True)
    tb, pk = Fraction(1, 1), []
    for line in r.stdout.splitlines():
        m = re.match(r"#tb \d+: (\d+)/(\d+)", line)
        if m:
            tb = Fraction(int(m.group(1)), int(m.group(2)))
        elif line and not line.startswith("#"):
            f = [x.strip() for x in line.split(",")]
            if len(f) >= 6:
                pk.append((int(f[2]), int(f[3]), f[5]))
    return pk, tb, r.stderr + ("" if r.returncode == 0 else f"\n(exit {r.returncode})")


def probe(path: str | os.PathLike, max_duration: float | None = None) -> VideoInfo:
    """Read the header and the video packets' timestamps; raise VideoError for anything
    that is not a usable video (or longer than `max_duration` seconds)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise VideoError(f"video file {_name(path)!r} not found")
    if os.path.getsize(path) == 0:
        raise VideoError(f"{_name(path)!r} is empty (0 bytes)")
    from moviepy.video.io.ffmpeg_reader import ffmpeg_parse_infos
    try:
        info = ffmpeg_parse_infos(path)
    except (OSError, IndexError, KeyError, ValueError, UnicodeDecodeError) as e:
        msg = str(e)
        if "moov atom not found" in msg and path.lower().endswith((".mp4", ".mov", ".m4v")) \
                and _looks_like_mp4(path):
            raise VideoError(f"{_name(path)!r} is an incomplete (truncated) MP4 file") from None
        header = _run(["-i", path], text=True).stderr
        if re.search(r"Stream #\S+.*Video:", header) or ("Input #0" in header and "Stream #" not in header):
            raise VideoError(f"{_name(path)!r} has zero length (no video frames in it)") from None
        raise VideoError(f"{_name(path)!r} is not a video file ffmpeg can read") from None
    if not info.get("video_found"):
        what = "an audio-only file" if info.get("audio_found") else "not a video"
        raise VideoError(f"{_name(path)!r} has no video stream ({what})")
    pk, tb, log = _packets(path)
    if "partial file" in log or "Truncat" in log or "(exit" in log:
        raise VideoError(f"{_name(path)!r} is damaged or truncated (its video data is incomplete)")
    if not pk:
        raise VideoError(f"{_name(path)!r} has a video stream with no frames")
    first = min(p for p, _, _ in pk)
    end = max(p + max(d, 0) for p, d, _ in pk)
    duration = float((end - first) * tb)
    if duration <= 0:
        raise VideoError(f"{_name(path)!r} has zero length")
    if max_duration is not None and duration > max_duration + 1e-6:
        raise VideoError(f"{_name(path)!r} is {duration:.1f} s long; the limit is {max_duration:g} s")
    rot = int(round(float(info.get("video_rotation", 0) or 0))) % 360
    if not rot:   # moviepy 2.2 misses ffmpeg 7+'s "Display Matrix: rotation of X degrees"
        header = _run(["-i", path], text=True).stderr
        m = re.search(r"rotation of (-?[\d.]+) degrees", header, re.IGNORECASE)
        rot = int(round(float(m.group(1)))) % 360 if m else 0
    w, h = info.get("video_size") or (0, 0)
    if rot in (90, 270):
        w, h = h, w
    fps = float(info.get("video_fps") or 0.0) or (len(pk) / duration)
    return VideoInfo(duration=duration, fps=fps, width=int(w), height=int(h),
                     has_audio=bool(info.get("audio_found")), has_video=True,
                     rotation=rot, n_frames=len(pk))


def _looks_like_mp4(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(12)
    return head[4:8] in (b"ftyp", b"mdat", b"moov", b"free", b"wide")


def read_frames(path: str | os.PathLike, fps: float, size: int, start: float = 0.0,
                duration: float | None = None, info: VideoInfo | None = None) -> np.ndarray:
    """Frames at start + i/fps, i < num_frames(duration, fps). (T, size, size, 3) uint8."""
    path = os.fspath(path)
    info = info or probe(path)
    if duration is None:
        duration = max(info.duration - start, 0.0)
    if start < 0 or start >= info.duration:
        raise VideoError(f"start {start:g} s is outside the video (0–{info.duration:.2f} s)")
    T = num_frames(duration, fps)
    out = np.zeros((T, size, size, 3), np.uint8)
    if T == 0:
        return out
    targets = start + np.arange(T) / fps
    seek = max(start - 1.0, 0.0)                 # a frame shown at `start` began before it
    vf = (f"showinfo,scale='if(lt(iw,ih),{size},-2)':'if(lt(iw,ih),-2,{size})':flags=area,"
          f"crop={size}:{size},format=rgb24")
    args = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "info", "-copyts",
            "-ss", f"{seek:.6f}", "-i", path, "-t", f"{duration + (start - seek) + 1.0:.6f}",
            "-map", "0:v:0", "-an", "-sn", "-vf", vf, "-fps_mode", "passthrough",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    pts_q: queue.Queue = queue.Queue()
    errors: list[str] = []

    def read_log():   # showinfo prints each frame's pts_time before the frame is written
        for raw in proc.stderr:
            line = raw.decode("utf-8", "replace")
            m = re.search(r"\bn:\s*\d+\s+pts:\s*-?\d+\s+pts_time:(-?[\d.e+-]+)", line)
            if m:
                pts_q.put(float(m.group(1)))
            elif "rror" in line:
                errors.append(line.strip())
        pts_q.put(None)

    th = threading.Thread(target=read_log, daemon=True)
    th.start()
    nbytes = size * size * 3
    prev, i = None, 0
    try:
        while i < T:
            buf = proc.stdout.read(nbytes)
            if len(buf) < nbytes:
                break
            p = pts_q.get(timeout=60)
            if p is None:
                break
            frame = np.frombuffer(buf, np.uint8).reshape(size, size, 3)
            while i < T and p > targets[i] + 1e-4:
                out[i] = frame if prev is None else prev
                i += 1
            prev = frame
    except queue.Empty:
        proc.kill()
        raise VideoError(f"reading frames of {_name(path)!r} timed out") from None
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        th.join(timeout=5)
    if prev is None:
        raise VideoError(f"no frames could be decoded from {_name(path)!r}")
    out[i:] = prev                                # after the last frame it stays on screen
    return out


def read_audio(path: str | os.PathLike, sr: int = 44100) -> np.ndarray | None:
    """The first audio stream as (n,) float32 mono at `sr` (channels averaged), or None."""
    path = os.fspath(path)
    from moviepy.video.io.ffmpeg_reader import ffmpeg_parse_infos
    try:
        if not ffmpeg_parse_infos(path).get("audio_found"):
            return None
    except (OSError, IndexError, KeyError, ValueError):
        raise VideoError(f"{_name(path)!r} is not a media file ffmpeg can read") from None
    r = _run(["-v", "error", "-i", path, "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(sr),
              "-f", "f32le", "-"])
    if r.returncode != 0:
        raise VideoError(f"could not decode the audio of {_name(path)!r}")
    return np.frombuffer(r.stdout, np.float32).copy()


def mux(video_path: str | os.PathLike, wave: np.ndarray, sr: int,
        out_path: str | os.PathLike, info: VideoInfo | None = None) -> Path:
    """Write out_path = video_path's first video stream (copied) + `wave` as AAC, the audio
    trimmed or padded with silence to the video stream's exact duration."""
    from scipy.io import wavfile
    video_path, out_path = os.fspath(video_path), Path(out_path)
    info = info or probe(video_path)
    x = np.asarray(wave, np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[0] > x.shape[1] else x.mean(axis=0)
    n = int(round(info.duration * sr))
    x = np.pad(x[:n], (0, max(n - len(x), 0)))
    x = np.clip(np.nan_to_num(x), -1.0, 1.0)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "audio.wav")
        wavfile.write(wav, int(sr), x)
        base = ["-y", "-v", "error", "-i", video_path, "-i", wav, "-map", "0:v:0", "-map", "1:a:0"]
        tail = ["-c:a", "aac", "-b:a", "192k", "-t", f"{info.duration:.6f}",
                "-movflags", "+faststart", str(out_path)]
        r = _run(base + ["-c:v", "copy"] + tail, text=True)
        if r.returncode != 0:   # e.g. a codec the MP4 container cannot hold: re-encode
            r = _run(base + ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18"] + tail,
                     text=True)
        if r.returncode != 0:
            raise VideoError(f"could not write {out_path.name!r}: "
                             f"{(r.stderr.strip().splitlines() or ['ffmpeg failed'])[-1]}")
    return out_path


def cut(video_path: str | os.PathLike, start: float, duration: float,
        out_path: str | os.PathLike) -> Path:
    """Re-encode [start, start + duration) of the first video stream (no audio) into out_path,
    for a trimmed range; `mux` then adds audio of exactly that length."""
    out_path = Path(out_path)
    r = _run(["-y", "-v", "error", "-ss", f"{start:.6f}", "-i", os.fspath(video_path),
              "-t", f"{duration:.6f}", "-map", "0:v:0", "-an", "-c:v", "libx264",
              "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out_path)], text=True)
    if r.returncode != 0 or not out_path.exists():
        raise VideoError(f"could not cut {start:.2f}–{start + duration:.2f} s out of "
                         f"{_name(video_path)!r}")
    return out_path
