"""The demo's sync view: does the sound follow the motion? One time axis shows

- the log-mel spectrogram of the generated audio (top),
- a visual-motion curve from the video's frame differences (bottom: per 24 FPS frame, the mean
  of the 2 % most-changed pixels, so a small moving object counts as much as a panning shot),
- the audio onsets the project's detector finds (`metrics.detect_onsets`), drawn across both.

It reads only the result (the output mp4's frames and the generated WAV), so it works on any
video the demo accepts. `render_sync_view` draws arrays; `sync_view_for` reads the files.
"""
from __future__ import annotations

import logging

import numpy as np
import soundfile as sf

from salsav_core import video_io
from salsav_core.config import SYNC_FPS
from webapp.spectrogram import log_mel

log = logging.getLogger(__name__)

MOTION_SIZE = 96          # px: frames are read at this size for the motion curve
TOP_FRACTION = 0.02       # the most-changed pixels that make a frame's motion value


def motion_curve(frames: np.ndarray) -> np.ndarray:
    """(T,) motion in [0, 1] of (T, H, W, 3) uint8 frames: value t is the mean of the top 2 %
    absolute grey-level changes from frame t-1 to t (0 for the first frame), over the clip's max."""
    grey = np.asarray(frames, np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)   # (T, H, W)
    if len(grey) < 2:
        return np.zeros(len(grey), np.float32)
    diff = np.abs(np.diff(grey, axis=0)).reshape(len(grey) - 1, -1)                      # (T-1, HW)
    k = max(1, int(TOP_FRACTION * diff.shape[1]))
    top = np.partition(diff, diff.shape[1] - k, axis=1)[:, -k:].mean(axis=1)
    curve = np.concatenate([[0.0], top]).astype(np.float32)
    peak = curve.max()
    return curve / peak if peak > 0 else curve


def render_sync_view(frames: np.ndarray, fps: float, wave: np.ndarray, sr: int,
                     size: tuple[float, float] = (8.0, 3.6), dpi: int = 100) -> np.ndarray:
    """RGB image (H, W, 3) uint8: spectrogram over the motion curve, onsets across both."""
    wave = np.asarray(wave, np.float32).ravel()
    seconds = max(len(wave) / sr, len(frames) / fps, 1e-3)
    db, frame_rate = log_mel(wave, sr)
    from salsav_core import metrics      # scipy: imported on first use, off the app's start-up path
    onsets = metrics.detect_onsets(wave, sr) if len(wave) else np.zeros(0)
    motion = motion_curve(frames)
    from matplotlib.backends.backend_agg import FigureCanvasAgg   # lazy: matplotlib costs
    from matplotlib.figure import Figure                            # ~1 s of start-up
    fig = Figure(figsize=size, dpi=dpi)
    FigureCanvasAgg(fig)
    ax_s, ax_m = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 2], "hspace": 0.08})
    ax_s.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=-80, vmax=0,
                extent=(0.0, db.shape[1] / frame_rate, 0, db.shape[0]), interpolation="nearest")
    ax_s.set_ylabel("mel band")
    t = np.arange(len(motion)) / fps
    ax_m.fill_between(t, motion, step="mid", color="#38bdf8", alpha=0.35, lw=0)
    ax_m.step(t, motion, where="mid", color="#0284c7", lw=1.0, label="visual motion")
    ax_m.set_ylim(0, 1.08)
    ax_m.set_yticks([0, 1])
    ax_m.set_ylabel("motion")
    ax_m.set_xlabel("time (s)")
    for k, o in enumerate(onsets):
        ax_s.axvline(o, color="#a3e635", ls="--", lw=0.9)
        ax_m.axvline(o, color="#65a30d", ls="--", lw=0.9,
                     label=f"sound onsets ({len(onsets)})" if k == 0 else None)
    ax_m.set_xlim(0.0, seconds)
    ax_m.legend(loc="upper right", fontsize=7, framealpha=0.7, ncol=2)
    fig.subplots_adjust(left=0.08, right=0.99, top=0.9, bottom=0.13)   # room for the page's label
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def sync_view_for(video_path: str, audio_path: str) -> np.ndarray:
    """The sync view of a demo result: the output video's frames at 24 FPS and its WAV."""
    wave, sr = sf.read(str(audio_path), dtype="float32", always_2d=True)         # (n, channels)
    wave = wave.mean(axis=1)
    frames = video_io.read_frames(str(video_path), SYNC_FPS, MOTION_SIZE)
    return render_sync_view(frames, SYNC_FPS, wave, sr)


def sync_view_or_none(video_path, audio_path):
    """For the page: the sync view, or None (the view stays empty) if a file cannot be read."""
    if not video_path or not audio_path:
        return None
    try:
        return sync_view_for(video_path, audio_path)
    except Exception:                       # never let the extra view fail a finished request
        log.exception("sync view failed")
        return None
