"""Probing a video in process with PyAV: demux only (no decoding, no subprocess).

`probe(path)` -> VideoInfo: the duration of the *video stream* from its packets' timestamps (so
a webm written as a stream, with no duration in its header, works), fps, displayed size,
rotation, codec and pixel format (what `video_mux.mux` decides copy vs re-encode from).
Every failure a user can cause raises `VideoError` with one plain sentence.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from salsav_core.media_errors import VideoError


def _name(path) -> str:
    return Path(path).name


def _av():
    import av   # PyAV loads libav* (~0.1 s): imported on first use, off the training path
    return av


@dataclass(frozen=True)
class VideoInfo:
    duration: float        # seconds of the video stream (first pts to last pts + its duration)
    fps: float             # nominal frame rate (average for VFR)
    width: int             # displayed size, after rotation
    height: int
    has_audio: bool
    has_video: bool
    rotation: int          # degrees clockwise to display it upright (applied when reading)
    n_frames: int = 0      # video packets
    codec: str = ""        # video codec name (mux copies it when mp4 can hold it)
    pix_fmt: str = ""      # decoder pixel format (mux copies only 4:2:0, what browsers play)
    start_time: float = 0.0   # pts of the first video packet, seconds


def _open(path: str):
    av = _av()
    try:
        return av.open(path, metadata_errors="ignore")
    except av.error.FFmpegError:
        if _looks_like_mp4(path):     # an mp4 header whose index (moov) never came
            raise VideoError(f"{_name(path)!r} is an incomplete (truncated) MP4 file") from None
        raise VideoError(f"{_name(path)!r} is not a video file ffmpeg can read") from None


def _looks_like_mp4(path: str) -> bool:
    with open(path, "rb") as f:
        head = f.read(12)
    return head[4:8] in (b"ftyp", b"mdat", b"moov", b"free", b"wide")


def _rotation(stream) -> int:
    """Clockwise degrees that display the stream upright (ffmpeg's autorotate convention)."""
    r = 0
    tag = (stream.metadata or {}).get("rotate")
    if tag:
        try:
            r = int(round(float(tag)))
        except ValueError:
            r = 0
    return r % 360


def probe(path: str | os.PathLike, max_duration: float | None = None) -> VideoInfo:
    """Read the header and the video packets' timestamps (demux only, no decoding); raise
    VideoError for anything that is not a usable video (or longer than `max_duration` s)."""
    av = _av()
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise VideoError(f"video file {_name(path)!r} not found")
    if os.path.getsize(path) == 0:
        raise VideoError(f"{_name(path)!r} is empty (0 bytes)")
    with _open(path) as c:
        if not c.streams:
            raise VideoError(f"{_name(path)!r} has zero length (no video frames in it)")
        if not c.streams.video:
            what = "an audio-only file" if c.streams.audio else "not a video"
            raise VideoError(f"{_name(path)!r} has no video stream ({what})")
        s = c.streams.video[0]
        tb = s.time_base
        has_audio = bool(c.streams.audio)
        pts, ends, n, damaged = [], [], 0, False
        try:
            for pkt in c.demux(s):
                if pkt.size == 0 and pkt.pts is None:
                    continue                                  # the flush packet
                n += 1
                if pkt.pts is not None:
                    pts.append(pkt.pts)
                    ends.append(pkt.pts + max(pkt.duration or 0, 0))
        except av.error.FFmpegError:
            damaged = True
        rot = _display_rotation(c, s, path)
        w, h = s.codec_context.width, s.codec_context.height
        codec = s.codec_context.name
        pix_fmt = s.codec_context.pix_fmt or ""
        avg = float(s.average_rate) if s.average_rate else 0.0
    if damaged or _truncated(path, n):
        raise VideoError(f"{_name(path)!r} is damaged or truncated (its video data is incomplete)")
    if n == 0:
        raise VideoError(f"{_name(path)!r} has zero length (no video frames in it)")
    first, last = min(pts), max(pts)
    end = max(ends)
    if end <= last:                                            # no packet durations (e.g. GIF end)
        end = last + (1 / avg / tb if avg else (last - first) / max(len(pts) - 1, 1))
    duration = float((end - first) * tb)
    if duration <= 0:
        raise VideoError(f"{_name(path)!r} has zero length")
    if max_duration is not None and duration > max_duration + 1e-6:
        raise VideoError(f"{_name(path)!r} is {duration:.1f} s long; the limit is {max_duration:g} s")
    if rot in (90, 270):
        w, h = h, w
    fps = avg if 0 < avg < 1000 else n / duration
    return VideoInfo(duration=duration, fps=fps, width=int(w), height=int(h), has_audio=has_audio,
                     has_video=True, rotation=rot, n_frames=n, codec=codec, pix_fmt=pix_fmt,
                     start_time=float(first * tb))


def _display_rotation(container, stream, path: str) -> int:
    """Rotation from the first decoded frame's display matrix (ffmpeg attaches it to frames)."""
    r = _rotation(stream)
    if r:
        return r
    try:
        container.seek(0)
        for frame in container.decode(stream):
            return int(round(-float(frame.rotation or 0))) % 360
    except Exception:       # noqa: BLE001  (a damaged first frame: reading reports it)
        return 0
    return 0


def _truncated(path: str, n_packets: int) -> bool:
    """libavformat stops quietly at a cut-off mp4 (the index lists packets past the end of the
    file): compare the sample table's last offset with the file size."""
    if n_packets == 0 or not path.lower().endswith((".mp4", ".mov", ".m4v")):
        return False
    av = _av()
    with av.open(path, metadata_errors="ignore") as c:
        s = c.streams.video[0]
        entries = s.index_entries
        if not entries:
            return False
        last = max(e.pos + e.size for e in entries)
    return last > os.path.getsize(path)
