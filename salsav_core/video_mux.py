"""The ffmpeg subprocesses: audio decoding, muxing and cutting, each with a timeout.

- `run_ffmpeg(args, timeout)`: every call goes through here; on expiry the process is killed
  and a VideoError says so (a hung ffmpeg never blocks the demo).
- `read_audio(path, sr, max_seconds)` → (n,) float32 mono or None (no audio stream). The
  length is probed first and at most `max_seconds` (+ a margin) is ever decoded.
- `mux(video, wave, sr, out, audio_codec="flac")` → mp4: the original video stream copied when
  mp4 holds its codec and browsers play it (H.264, HEVC, AV1, VP9 in 8-bit 4:2:0), otherwise
  re-encoded to H.264 (GIF, VP8, FLV's Sorenson, MPEG-4 part 2, PNG/alpha, 4:4:4, ...; odd
  sizes scaled to even); the wave trimmed or padded to the video stream's duration, as 16-bit
  FLAC (lossless: the file holds exactly the generated wave; Chrome, Edge and Firefox play FLAC
  in mp4) or as AAC (192 kb/s, for players that lack FLAC). FLAC also writes 4× faster:
  0.04 s against 0.18–0.24 s for 10 s of generated sound (benchmarks/RESULTS.md, issue 20).
  `PendingMux(video, sr, out, ...)` is the same in two halves: ffmpeg starts (and opens the
  video) while the model runs, `.finish(wave)` pipes the sound in.
- `cut(video, start, duration, out)` → a re-encoded range of the video (no audio).
"""
from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import numpy as np

from salsav_core.media_errors import VideoError
from salsav_core.video_probe import probe

COPY_CODECS = ("h264", "hevc", "av1", "vp9")     # copied into mp4 as they are ...
COPY_PIX_FMTS = ("yuv420p", "yuvj420p")          # ... when 8-bit 4:2:0 (what browsers play)
TIMEOUT_S = 60.0                                 # base timeout of one ffmpeg call
EVEN = "scale=trunc(iw/2)*2:trunc(ih/2)*2"       # libx264 4:2:0 needs even sizes
# the sound's encoders in the mp4; AAC with ffmpeg's "fast" coder: half the encode time of the
# default "twoloop" at the same onset recall and precision after the round trip
AUDIO_CODECS = {"flac": ["-c:a", "flac", "-sample_fmt", "s16"],
                "aac": ["-c:a", "aac", "-aac_coder", "fast", "-b:a", "192k"]}
DEFAULT_AUDIO_CODEC = "flac"


def ffmpeg_exe() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def _name(path) -> str:
    return Path(path).name


def run_ffmpeg(args: list[str], timeout: float = TIMEOUT_S, what: str = "ffmpeg",
               **kw) -> subprocess.CompletedProcess:
    """ffmpeg with `args`; killed (and VideoError raised) after `timeout` seconds."""
    try:
        return subprocess.run([ffmpeg_exe(), "-hide_banner", "-nostdin", *args],
                              capture_output=True, timeout=timeout, **kw)
    except subprocess.TimeoutExpired:   # subprocess.run has killed and reaped the child
        raise VideoError(f"{what} took longer than {timeout:g} s and was stopped") from None


def audio_duration(path: str | os.PathLike) -> tuple[bool, float | None]:
    """(has an audio stream, its duration in seconds or None when the header does not say)."""
    import av   # lazy: PyAV loads libav*
    path = os.fspath(path)
    try:
        with av.open(path, metadata_errors="ignore") as c:
            if not c.streams.audio:
                return False, None
            a = c.streams.audio[0]
            if a.duration and a.time_base:
                return True, float(a.duration * a.time_base)
            if c.duration:
                return True, c.duration / 1e6
            return True, None
    except av.error.FFmpegError:
        raise VideoError(f"{_name(path)!r} is not a media file ffmpeg can read") from None


def read_audio(path: str | os.PathLike, sr: int = 44100,
               max_seconds: float | None = None) -> np.ndarray | None:
    """The first audio stream as (n,) float32 mono at `sr` (channels averaged), or None.
    Longer than `max_seconds` → VideoError, found from the header or after decoding at most
    max_seconds + 1 s (never the whole of a long file)."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise VideoError(f"audio file {_name(path)!r} not found")
    has, dur = audio_duration(path)
    if not has:
        return None
    too_long = VideoError(f"{_name(path)!r} has more than {max_seconds:g} s of audio; "
                          f"the limit is {max_seconds:g} s") if max_seconds is not None else None
    if max_seconds is not None and dur is not None and dur > max_seconds + 0.05:
        raise too_long
    limit = [] if max_seconds is None else ["-t", f"{max_seconds + 1.0:.3f}"]
    timeout = TIMEOUT_S + (0.5 * (max_seconds or dur or 600.0))
    r = run_ffmpeg(["-v", "error", "-i", path, *limit, "-map", "0:a:0", "-vn", "-ac", "1",
                    "-ar", str(sr), "-f", "f32le", "-"], timeout=timeout,
                   what=f"decoding the audio of {_name(path)!r}")
    if r.returncode != 0:
        raise VideoError(f"could not decode the audio of {_name(path)!r}")
    x = np.frombuffer(r.stdout, np.float32).copy()
    if max_seconds is not None and len(x) > (max_seconds + 0.05) * sr:
        raise too_long
    return x


def _pcm(wave: np.ndarray, sr: int, duration: float) -> bytes:
    """(n,) or 2-D wave → mono float32 bytes of exactly `duration` s (trimmed or padded)."""
    x = np.asarray(wave, np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1) if x.shape[0] > x.shape[1] else x.mean(axis=0)
    n = int(round(duration * sr))
    x = np.pad(x[:n], (0, max(n - len(x), 0)))
    return np.clip(np.nan_to_num(x), -1.0, 1.0).astype("<f4").tobytes()


class PendingMux:
    """`mux` in two halves. Made before the wave exists, it starts the ffmpeg process, which
    opens and probes the video while the model still runs; `finish(wave)` pipes the sound in
    (no file) and waits. `cancel()` stops it when the wave never comes. A video that must be
    re-encoded starts at `finish` (its encoder needs the sound's timing anyway)."""

    def __init__(self, video_path: str | os.PathLike, sr: int, out_path: str | os.PathLike,
                 info=None, audio_codec: str = DEFAULT_AUDIO_CODEC):
        if audio_codec not in AUDIO_CODECS:
            raise ValueError(f"audio_codec must be one of {', '.join(AUDIO_CODECS)}")
        self.video_path, self.out_path, self.sr = os.fspath(video_path), Path(out_path), int(sr)
        self.info = info or probe(self.video_path)
        self.out_path.parent.mkdir(parents=True, exist_ok=True)
        # ffmpeg writes a hidden sibling, renamed over out_path only when complete: a failed or
        # cancelled request leaves out_path as it was, and no reader sees a half-written file
        self._part = self.out_path.with_name(f".{self.out_path.name}.{uuid.uuid4().hex[:12]}.part")
        self._base = ["-y", "-v", "error", "-i", self.video_path, "-f", "f32le", "-ar", str(self.sr),
                      "-ac", "1", "-i", "pipe:0", "-map", "0:v:0", "-map", "1:a:0"]
        self._tail = [*AUDIO_CODECS[audio_codec], "-t", f"{self.info.duration:.6f}",
                      "-movflags", "+faststart", "-f", "mp4", str(self._part)]
        self._proc = None
        if self.info.codec in COPY_CODECS and self.info.pix_fmt in COPY_PIX_FMTS:
            self._proc = subprocess.Popen(
                [ffmpeg_exe(), "-hide_banner", "-nostdin", *self._base, "-c:v", "copy", *self._tail],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self, wave: np.ndarray) -> Path:
        """Write out_path with `wave` trimmed or padded to the video stream's exact duration."""
        pcm = _pcm(wave, self.sr, self.info.duration)
        what = f"writing {self.out_path.name!r}"
        r = None
        if self._proc is not None:
            proc, self._proc = self._proc, None
            try:
                _, err = proc.communicate(pcm, timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
                raise VideoError(f"{what} took longer than {TIMEOUT_S:g} s and was stopped") from None
            r = subprocess.CompletedProcess(proc.args, proc.returncode, b"", err)
        if r is None or r.returncode != 0:   # a codec mp4 (or a browser) cannot hold: re-encode
            r = run_ffmpeg(self._base + ["-vf", EVEN, "-c:v", "libx264", "-preset", "veryfast",
                                         "-pix_fmt", "yuv420p", "-crf", "18"] + self._tail,
                           timeout=TIMEOUT_S + 4.0 * self.info.duration, what=what, input=pcm)
        if r.returncode != 0 or not self._part.exists():
            self._part.unlink(missing_ok=True)
            err = r.stderr.decode("utf-8", "replace").strip().splitlines() or ["ffmpeg failed"]
            raise VideoError(f"could not write {self.out_path.name!r}: {err[-1][:150]}")
        os.replace(self._part, self.out_path)
        return self.out_path

    def cancel(self) -> None:
        """Stop the waiting ffmpeg process; out_path stays as it was."""
        if self._proc is not None:
            proc, self._proc = self._proc, None
            proc.kill()
            proc.communicate()
        self._part.unlink(missing_ok=True)


def mux(video_path: str | os.PathLike, wave: np.ndarray, sr: int,
        out_path: str | os.PathLike, info=None, audio_codec: str = DEFAULT_AUDIO_CODEC) -> Path:
    """Write out_path = video_path's first video stream (copied when possible) + `wave` in
    `audio_codec` (AUDIO_CODECS), trimmed or padded with silence to the video stream's exact
    duration."""
    return PendingMux(video_path, sr, out_path, info, audio_codec).finish(wave)


def cut(video_path: str | os.PathLike, start: float, duration: float,
        out_path: str | os.PathLike) -> Path:
    """Re-encode [start, start + duration) of the first video stream (no audio) into out_path,
    for a trimmed range; `mux` then adds audio of exactly that length."""
    out_path = Path(out_path)
    r = run_ffmpeg(["-y", "-v", "error", "-ss", f"{start:.6f}", "-i", os.fspath(video_path),
                    "-t", f"{duration:.6f}", "-map", "0:v:0", "-an", "-vf", EVEN, "-c:v", "libx264",
                    "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out_path)],
                   timeout=TIMEOUT_S + 4.0 * duration, what=f"cutting {_name(video_path)!r}",
                   text=True)
    if r.returncode != 0 or not out_path.exists():
        raise VideoError(f"could not cut {start:.2f}–{start + duration:.2f} s out of "
                         f"{_name(video_path)!r}")
    return out_path
