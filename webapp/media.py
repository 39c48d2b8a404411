"""Media helpers for the demo: write int16 WAV, and draw a small test-pattern video
(warm-up, tests, benchmark). Uploads are probed and read by the core (`salsav_core.request`).

The test pattern is encoded in process (PyAV): no ffmpeg subprocess.
"""
from __future__ import annotations

import numpy as np
import soundfile as sf

from salsav_core.video_write import write_h264


def write_wav_int16(path: str, wave: np.ndarray, sr: int) -> str:
    pcm = np.round(np.clip(np.asarray(wave, np.float32), -1.0, 1.0) * 32767.0).astype(np.int16)   # (n,)
    sf.write(path, pcm, sr, subtype="PCM_16")
    return path


def make_test_video(path: str, seconds: float, fps: int = 24, size: int = 64, seed: int = 0) -> str:
    """A silent mp4 of a square bouncing off the floor: something to generate sound for."""
    rng = np.random.default_rng(seed)
    n = max(int(round(seconds * fps)), 1)
    period = rng.uniform(0.6, 1.2)
    color = rng.integers(80, 255, 3).astype(np.uint8)
    frames = np.empty((n, size, size, 3), np.uint8)   # (T, H, W, 3)
    for i in range(n):
        t = i / fps
        phase = (t % period) / period
        y = int((size - 12) * (1 - 4 * (phase - 0.5) ** 2))   # parabola, floor at phase 0/1
        frame = np.full((size, size, 3), 24, np.uint8)   # (H, W, 3)
        frame[size - 4:] = 120
        x0 = int((size - 12) * (i / n))
        frame[size - 16 - y + 4: size - 4 - y + 4 if y else size - 4, x0:x0 + 12] = color
        frames[i] = frame
    return write_h264(path, frames, fps, crf=23)
