"""The held-out scenes as real videos: H.264 mp4 at the scene's own rate and size, read back
by the product's reader (`video_io.read_streams`: on-screen frame at each target time, shorter
side scaled, centre crop), so the model sees them exactly as it sees an upload."""
from __future__ import annotations

import os
import tempfile

from ...config import SEM_FPS, SYNC_FPS
from ...video_write import write_h264
from .scene import Scene


def write_mp4(scene: Scene, path: str | os.PathLike, crf: int = 20, audio: bool = False) -> str:
    """The scene's frames as H.264 (yuv420p) at scene.fps; with audio=True its sound as AAC."""
    return write_h264(path, scene.frames, scene.fps, scene.audio if audio else None,
                      scene.sample_rate, channels=1, crf=crf)


def model_frames(scene: Scene, sem_size: int, sync_size: int, workdir: str | None = None):
    """(frames at 8 FPS, sem_size px; frames at 24 FPS, sync_size px) of the scene's mp4."""
    from ... import video_io

    with tempfile.TemporaryDirectory(dir=workdir) as d:
        path = write_mp4(scene, os.path.join(d, f"heldout_{scene.seed}.mp4"))
        f8, f24 = video_io.read_streams(path, [(SEM_FPS, sem_size), (SYNC_FPS, sync_size)],
                                        duration=scene.duration)
    return f8, f24
