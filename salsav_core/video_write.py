"""Write our own frames (and sound) as an H.264 mp4, in process through PyAV.

Used for the videos the project makes itself: SynthFoley clips, the held-out scenes, the demo's
test pattern. No ffmpeg subprocess is started, so nothing here can hang on a child process.
Uploads and study media go through `video_mux.run_ffmpeg`, which has timeouts.
"""
from __future__ import annotations

import os
from fractions import Fraction

import numpy as np


def write_h264(path: str | os.PathLike, frames: np.ndarray, fps: float, audio: np.ndarray | None = None,
               sample_rate: int | None = None, channels: int = 1, crf: int = 20,
               preset: str = "veryfast", audio_bitrate: int = 128_000) -> str:
    """(T, H, W, 3) uint8 frames at `fps` as H.264 yuv420p (H and W even); with `audio`
    ((n,) float in [-1, 1] at `sample_rate`) an AAC track of `channels` (1 or 2) copies of it."""
    import av   # lazy: PyAV loads libav*, which training does not need

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(f"frames must be (T, H, W, 3) uint8 with T >= 1, got {frames.shape} {frames.dtype}")
    if frames.shape[1] % 2 or frames.shape[2] % 2:
        raise ValueError(f"H.264 4:2:0 needs even sizes, got {frames.shape[2]}x{frames.shape[1]}")
    if audio is not None and (sample_rate is None or channels not in (1, 2)):
        raise ValueError("audio needs a sample_rate and 1 or 2 channels")
    path = os.fspath(path)
    rate = Fraction(fps).limit_denominator(1001)
    with av.open(path, "w") as c:
        v = c.add_stream("libx264", rate=rate)
        v.width, v.height, v.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        v.options = {"crf": str(crf), "preset": preset}
        a = None
        if audio is not None:
            layout = "mono" if channels == 1 else "stereo"
            a = c.add_stream("aac", rate=int(sample_rate), layout=layout)
            a.bit_rate = audio_bitrate
        for f in frames:
            for p in v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is not None:
            wave = np.clip(np.asarray(audio, np.float32).reshape(-1), -1.0, 1.0)
            frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(np.repeat(wave[None], channels, 0)),
                                               format="fltp", layout=layout)
            frame.sample_rate = int(sample_rate)
            frame.pts, frame.time_base = 0, Fraction(1, int(sample_rate))   # the encoder then dates its
            # packets from -priming, and the muxer writes the edit list that hides the priming
            for p in a.encode(frame):
                c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path
