"""Media helpers for the demo: probe uploads, load reference audio, write int16 WAV,
and draw a small test-pattern video (warm-up, tests, benchmark).

ffmpeg is the one bundled with imageio-ffmpeg (there is no system ffmpeg).
"""
from __future__ import annotations

import os

import numpy as np

from webapp.settings import DemoSettings
from webapp.validation import DemoInputError, VideoInfo, check_video_info


def check_upload(path, settings: DemoSettings, what: str = "video") -> str:
    """The file exists, is a regular file and is within the upload limit."""
    if path is None or path == "":
        raise DemoInputError(f"Please upload a {what}.")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise DemoInputError(f"The {what} file could not be found on the server; upload it again.")
    size = os.path.getsize(path)
    if size == 0:
        raise DemoInputError(f"The {what} file is empty.")
    if size > settings.max_file_bytes:
        raise DemoInputError(f"The {what} file is {size / 2**20:.1f} MB; the limit is "
                             f"{settings.max_file_bytes / 2**20:.0f} MB.")
    return path


def probe_video(path: str) -> VideoInfo:
    """Duration, rate and size of a video; decodes the first frame to prove there is one."""
    import imageio_ffmpeg
    gen = imageio_ffmpeg.read_frames(path)
    try:
        meta = next(gen)
        first = next(gen, None)
    except (OSError, RuntimeError, StopIteration, ValueError) as e:
        raise DemoInputError("This file is not a readable video (it may be corrupt, or not a "
                             "video at all). Please upload an mp4, webm or mov file.") from e
    finally:
        gen.close()
    w, h = meta.get("size") or (0, 0)
    fps = float(meta.get("fps") or 0.0)
    duration = float(meta.get("duration") or 0.0)
    n_frames = 0 if first is None else max(int(round(duration * fps)), 1)
    return check_video_info(VideoInfo(duration=duration, fps=fps, width=int(w), height=int(h),
                                      n_frames=n_frames))


def load_audio(path: str) -> tuple[np.ndarray, int]:
    """Mono float32 wave and its rate (the pipeline's reader), with a demo-facing error."""
    from salsav_core.pipeline import GenerationError, load_audio as read
    try:
        return read(path)
    except GenerationError as e:
        raise DemoInputError(str(e)[:1].upper() + str(e)[1:] + ".") from None


def write_wav_int16(path: str, wave: np.ndarray, sr: int) -> str:
    import soundfile as sf
    pcm = np.round(np.clip(np.asarray(wave, np.float32), -1.0, 1.0) * 32767.0).astype(np.int16)   # (n,)
    sf.write(path, pcm, sr, subtype="PCM_16")
    return path


def make_test_video(path: str, seconds: float, fps: int = 24, size: int = 64, seed: int = 0) -> str:
    """A silent mp4 of a square bouncing off the floor: something to generate sound for."""
    import imageio_ffmpeg
    rng = np.random.default_rng(seed)
    n = max(int(round(seconds * fps)), 1)
    period = rng.uniform(0.6, 1.2)
    color = rng.integers(80, 255, 3).astype(np.uint8)
    writer = imageio_ffmpeg.write_frames(path, (size, size), fps=fps, macro_block_size=1,
                                         ffmpeg_log_level="error")
    writer.send(None)
    for i in range(n):
        t = i / fps
        phase = (t % period) / period
        y = int((size - 12) * (1 - 4 * (phase - 0.5) ** 2))   # parabola, floor at phase 0/1
        frame = np.full((size, size, 3), 24, np.uint8)   # (H, W, 3)
        frame[size - 4:] = 120
        x0 = int((size - 12) * (i / n))
        frame[size - 16 - y + 4: size - 4 - y + 4 if y else size - 4, x0:x0 + 12] = color
        writer.send(np.ascontiguousarray(frame))
    writer.close()
    return path
