"""The held-out scenes as real videos: H.264 mp4 at the scene's own rate and size, read back
by the product's reader (`video_io.read_streams`: on-screen frame at each target time, shorter
side scaled, centre crop), so the model sees them exactly as it sees an upload."""
from __future__ import annotations

import os
import tempfile

import numpy as np

from ...config import SEM_FPS, SYNC_FPS
from .scene import Scene


def write_mp4(scene: Scene, path: str | os.PathLike, crf: int = 20, audio: bool = False) -> str:
    """The scene's frames as H.264 (yuv420p) at scene.fps; with audio=True its sound as AAC."""
    import av   # PyAV: only the eval and the demo need video files

    path = os.fspath(path)
    with av.open(path, "w") as c:
        v = c.add_stream("libx264", rate=scene.fps)
        v.width, v.height, v.pix_fmt = scene.frames.shape[2], scene.frames.shape[1], "yuv420p"
        v.options = {"crf": str(crf), "preset": "veryfast"}
        a = None
        if audio:
            a = c.add_stream("aac", rate=scene.sample_rate, layout="mono")
        for f in scene.frames:
            for p in v.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(f), format="rgb24")):
                c.mux(p)
        for p in v.encode():
            c.mux(p)
        if a is not None:
            frame = av.AudioFrame.from_ndarray(scene.audio[None].astype(np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate = scene.sample_rate
            for p in a.encode(frame):
                c.mux(p)
            for p in a.encode():
                c.mux(p)
    return path


def model_frames(scene: Scene, sem_size: int, sync_size: int, workdir: str | None = None):
    """(frames at 8 FPS, sem_size px; frames at 24 FPS, sync_size px) of the scene's mp4."""
    from ... import video_io

    with tempfile.TemporaryDirectory(dir=workdir) as d:
        path = write_mp4(scene, os.path.join(d, f"heldout_{scene.seed}.mp4"))
        f8, f24 = video_io.read_streams(path, [(SEM_FPS, sem_size), (SYNC_FPS, sync_size)],
                                        duration=scene.duration)
    return f8, f24
