"""Video input through PyAV (in process: no subprocess start-up, one decode pass).

- `probe(path)` → VideoInfo (`video_probe`: duration of the *video stream* from its packets'
  timestamps, so a webm written as a stream, with no duration in its header, works).
- `read_streams(path, [(fps, size), ...], start, duration)` → one (T, size, size, 3) uint8 array
  per (fps, size), all from ONE decode pass. Frame i of a stream is the source frame on screen
  at start + i/fps (the last one with pts ≤ that time), for any source rate, VFR included. Each
  needed source frame is scaled once by libswscale (area averaging, from the decoder's pixel
  format) so its shorter side is the largest size, centre-cropped, turned by its rotation
  metadata, and block-averaged for smaller sizes; frames no target shows are never converted.
  The scaling runs in two worker threads while the decode goes on (libswscale releases the GIL),
  each reusing its own scaling contexts.
- `read_frames(path, fps, size, start, duration)` → one stream (the same rules).
- `read_audio`, `mux`, `cut` (ffmpeg subprocesses with timeouts) live in `video_mux`; they and
  `probe` are re-exported here, so `video_io` stays the one import for media.

Every failure a user can cause raises `VideoError` with one plain sentence.
"""
from __future__ import annotations

import collections
import os
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from salsav_core.config import num_frames
from salsav_core.media_errors import VideoError
from salsav_core.video_mux import PendingMux, cut, ffmpeg_exe, mux, read_audio  # noqa: F401  (re-exported)
from salsav_core.video_probe import VideoInfo, _av, _name, _open, probe  # noqa: F401  (re-exported)

READ_TIMEOUT_S = 120.0        # wall-clock bound of one decode pass (checked between frames)
MAX_PENDING = 16              # decoded frames waiting for their scaling, at most
_SCALER = ThreadPoolExecutor(max_workers=2, thread_name_prefix="salsav-scale")
_LOCAL = threading.local()    # each scaling thread's libswscale contexts, one per output size


def _reformatter(size: int):
    """This thread's reformatter for `size`. `frame.reformat` builds a new scaling context for
    every decoded frame (each frame owns its reformatter), which cost more than the scaling
    itself; one kept per thread and size reuses its context (same pixels, 2-3x less time)."""
    cache = getattr(_LOCAL, "reformatters", None)
    if cache is None:
        cache = _LOCAL.reformatters = {}
    if size not in cache:
        cache[size] = _av().video.reformatter.VideoReformatter()
    return cache[size]


def _scaled(frame, size: int, rot: int) -> np.ndarray:
    """(size, size, 3) uint8: shorter side scaled to `size` by libswscale (area averaging,
    straight from the decoder's pixel format), centre crop, turned upright."""
    w, h = frame.width, frame.height
    if w <= h:
        nw, nh = size, max(size, int(round(h * size / w)))
    else:
        nw, nh = max(size, int(round(w * size / h))), size
    img = _reformatter(size).reformat(frame, width=nw, height=nh, format="rgb24",
                                      interpolation="AREA").to_ndarray()
    y0, x0 = (nh - size) // 2, (nw - size) // 2
    img = img[y0:y0 + size, x0:x0 + size]
    if rot:
        img = np.rot90(img, k=-(rot // 90))   # clockwise quarter turns
    return np.ascontiguousarray(img)


def _shrink(img: np.ndarray, size: int) -> np.ndarray:
    f = img.shape[0] // size
    return img.reshape(size, f, size, f, 3).mean(axis=(1, 3)).round().astype(np.uint8)


def _scaled_sizes(frame, big: int, sizes: set, rot: int) -> dict[int, np.ndarray]:
    """{size: (size, size, 3)} for one source frame: `big` by libswscale, its divisors
    block-averaged from it, any other size by libswscale directly."""
    out = {big: _scaled(frame, big, rot)} if any(big % s == 0 for s in sizes) else {}
    for s in sizes:
        if s not in out:
            out[s] = _shrink(out[big], s) if big % s == 0 else _scaled(frame, s, rot)
    return out


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
    # Scaling runs in worker threads (libswscale releases the GIL) while this thread decodes. All
    # the sizes one source frame needs are made in one job (smaller sizes come from the largest;
    # and `frame.reformat` from two threads on one frame hangs PyAV). At most MAX_PENDING frames
    # wait, so a long video never holds more than that.
    jobs: list[tuple[Future, int, int, int]] = []   # (sizes → image, stream k, index i, size)
    pending: collections.deque = collections.deque()
    group: dict = {"id": None, "frame": None, "slots": []}   # the frame being assigned targets

    def flush():
        if group["id"] is None:
            return
        sizes = {sz for _, _, sz in group["slots"]}
        fut = _SCALER.submit(_scaled_sizes, group["frame"], big, sizes, info.rotation)
        jobs.extend((fut, k, i, sz) for k, i, sz in group["slots"])
        pending.append(fut)
        while len(pending) > MAX_PENDING:
            pending.popleft().result()
        group.update(id=None, frame=None, slots=[])

    def put(frame_id: int, frame, k: int, i: int):
        if frame_id != group["id"]:       # frame ids only grow: a frame's targets come together
            flush()
            group.update(id=frame_id, frame=frame)
        group["slots"].append((k, i, specs[k][1]))

    j, prev, prev_id, fid = 0, None, -1, 0
    with _open(path) as c:
        s = c.streams.video[0]
        s.thread_type = "AUTO"
        tb = s.time_base
        if start > 1.0:                # a frame shown at `start` began before it
            try:
                c.seek(int((t0 - 1.0) / tb), stream=s, backward=True)
            except av.error.FFmpegError:   # no index (a streamed webm): decode from the start
                c.seek(0)
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
    flush()
    try:
        for fut, k, i, size in jobs:
            outs[k][i] = fut.result()[size]
    except av.error.FFmpegError:
        raise VideoError(f"frames of {_name(path)!r} could not be converted") from None
    return outs


def read_frames(path: str | os.PathLike, fps: float, size: int, start: float = 0.0,
                duration: float | None = None, info: VideoInfo | None = None) -> np.ndarray:
    """Frames at start + i/fps, i < num_frames(duration, fps). (T, size, size, 3) uint8."""
    return read_streams(path, [(fps, size)], start, duration, info)[0]

