"""Video input through PyAV (in process: no subprocess start-up, one decode pass).

- `probe(path)` → VideoInfo (duration of the *video stream* from its packets' timestamps, so a
  webm written as a stream, with no duration in its header, works; fps, displayed size, audio?).
- `read_streams(path, [(fps, size), ...], start, duration)` → one (T, size, size, 3) uint8 array
  per (fps, size), all from ONE decode pass. Frame i of a stream is the source frame on screen
  at start + i/fps (the last one with pts ≤ that time), for any source rate, VFR included. Each
  needed source frame is scaled once by libswscale (area averaging, from the decoder's pixel
  format) so its shorter side is the largest size, centre-cropped, turned by its rotation
  metadata, and block-averaged for smaller sizes; frames no target shows are never converted.
- `read_frames(path, fps, size, start, duration)` → one stream (the same rules).
- `read_audio`, `mux`, `cut` (ffmpeg subprocesses with timeouts) live in `video_mux` and are
  re-exported here, so `video_io` stays the one import for media.

Every failure a user can cause raises `VideoError` with one plain sentence.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from salsav_core.config import num_frames
from salsav_core.media_errors import VideoError

READ_TIMEOUT_S = 120.0        # wall-clock bound of one decode pass (checked between frames)


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
    start_time: float = 0.0   # pts of the first video packet, seconds


def _name(path) -> str:
    return Path(path).name


def _av():
    import av   # PyAV loads libav* (~0.1 s): imported on first use, off the training path
    return av


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
                     has_video=True, rotation=rot, n_frames=n, codec=codec,
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


def _scaled(frame, size: int, rot: int) -> np.ndarray:
    """(size, size, 3) uint8: shorter side scaled to `size` by libswscale (area averaging,
    straight from the decoder's pixel format), centre crop, turned upright."""
    w, h = frame.width, frame.height
    if w <= h:
        nw, nh = size, max(size, int(round(h * size / w)))
    else:
        nw, nh = max(size, int(round(w * size / h))), size
    img = frame.reformat(width=nw, height=nh, format="rgb24", interpolation="AREA").to_ndarray()
    y0, x0 = (nh - size) // 2, (nw - size) // 2
    img = img[y0:y0 + size, x0:x0 + size]
    if rot:
        img = np.rot90(img, k=-(rot // 90))   # clockwise quarter turns
    return np.ascontiguousarray(img)


def _shrink(img: np.ndarray, size: int) -> np.ndarray:
    f = img.shape[0] // size
    return img.reshape(size, f, size, f, 3).mean(axis=(1, 3)).round().astype(np.uint8)


def read_streams(path: str | os.PathLike, specs, start: float = 0.0,
                 duration: float | None = None, info: VideoInfo | None = None,
                 timeout: float = READ_TIMEOUT_S) -> list[np.ndarray]:
    """One decode pass → [(T_k, size_k, size_k, 3) uint8 for each (fps_k, size_k) in specs],
    T_k = num_frames(duration, fps_k); frame i shows the source at start + i/fps_k."""
    av = _av()
    path = os.fspath(path)
    info = info or probe(path)
    if duration is None:
        duration = max(info.duration - start, 0.0)
    if start < 0 or start >= info.duration:
        raise VideoError(f"start {start:g} s is outside the video (0–{info.duration:.2f} s)")
    specs = [(float(f), int(s)) for f, s in specs]
    big = max(s for _, s in specs)
    outs = [np.zeros((num_frames(duration, f), s, s, 3), np.uint8) for f, s in specs]
    # all target times, sorted, with (stream, index) owners
    t0 = info.start_time + start
    targets = sorted((t0 + i / f, k, i) for k, ((f, _), o) in enumerate(zip(specs, outs))
                     for i in range(len(o)))
    if not targets:
        return outs
    deadline = time.monotonic() + timeout
    cache: dict[int, np.ndarray] = {}

    def put(frame_id: int, frame, k: int, i: int):
        if frame_id not in cache:
            cache.clear()
            cache[frame_id] = _scaled(frame, big, info.rotation)
        img = cache[frame_id]
        s = specs[k][1]
        outs[k][i] = img if s == big else (_shrink(img, s) if big % s == 0 else
                                           _scaled(frame, s, info.rotation))

    j, prev, prev_id, fid = 0, None, -1, 0
    with _open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        tb = s.time_base
        if start > 1.0:
            c.seek(int((t0 - 1.0) / tb), stream=s, backward=True)
        last_t = None
        try:
            for frame in c.decode(s):
                if time.monotonic() > deadline:
                    raise VideoError(f"reading frames of {_name(path)!r} timed out")
                if frame.pts is not None:
                    t = float(frame.pts * tb)
                elif last_t is not None:
                    t = last_t + 1.0 / max(info.fps, 1e-3)
                else:
                    t = info.start_time
                last_t = t
                fid += 1
                while j < len(targets) and t > targets[j][0] + 1e-4:
                    _, k, i = targets[j]
                    put(prev_id if prev is not None else fid, prev if prev is not None else frame, k, i)
                    j += 1
                if j >= len(targets):
                    break
                prev, prev_id = frame, fid
        except av.error.FFmpegError:
            if prev is None:
                raise VideoError(f"no frames could be decoded from {_name(path)!r}") from None
    if prev is None:
        raise VideoError(f"no frames could be decoded from {_name(path)!r}")
    for _, k, i in targets[j:]:                    # after the last frame it stays on screen
        put(prev_id, prev, k, i)
    return outs


def read_frames(path: str | os.PathLike, fps: float, size: int, start: float = 0.0,
                duration: float | None = None, info: VideoInfo | None = None) -> np.ndarray:
    """Frames at start + i/fps, i < num_frames(duration, fps). (T, size, size, 3) uint8."""
    return read_streams(path, [(fps, size)], start, duration, info)[0]


from salsav_core.video_mux import cut, ffmpeg_exe, mux, read_audio  # noqa: E402,F401  (re-exports)
