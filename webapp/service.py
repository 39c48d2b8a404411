"""What one demo request does, without any UI: check the values, run the pipeline, and
turn its result into the files and text the page shows.

The web -> core seam: `build_request` makes the core's `GenerateRequest` (one probe, one
reference decode, the demo's stricter `Limits`), `run_request` hands it to `Pipeline.run`.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass

import numpy as np

from salsav_core.pipeline import GenerationResult, Pipeline
from salsav_core.request import GenerateRequest, UnreadableVideo, prepare

from webapp.media import write_wav_int16
from webapp.settings import DemoSettings
from webapp.spectrogram import render_spectrogram
from webapp.validation import UNREADABLE_VIDEO, DemoInputError, check_trim, check_upload


@dataclass
class DemoOutput:
    video_path: str
    audio_path: str             # int16 WAV
    spectrogram: np.ndarray     # (H, W, 3) uint8
    timings_text: str
    seed: int
    seconds: float              # wall time of Pipeline.run


def build_request(settings: DemoSettings, video, prompt, negative_prompt, steps, guidance, seed,
                  random_seed, reference_audio, reference_start, trim, start, end) -> GenerateRequest:
    """The page's values -> the core's checked request: the demo checks the uploads and the
    trim controls, the core everything else against `settings.limits()`."""
    path = check_upload(video, settings, "video")
    ref_path = None
    if reference_audio not in (None, ""):
        ref_path = check_upload(reference_audio, settings, "reference audio")
    start_s, duration = check_trim(bool(trim), start, end)
    try:
        return prepare(path, prompt=prompt, negative_prompt=negative_prompt, steps=steps,
                       guidance=guidance, seed=None if random_seed else seed,
                       reference_audio=ref_path, reference_start=reference_start,
                       start=start_s, duration=duration, limits=settings.limits())
    except UnreadableVideo:
        raise DemoInputError(UNREADABLE_VIDEO) from None


def format_timings(steps: int, timings: dict, audio_seconds: float) -> str:
    """'8 steps · 0.9 s for 10.0 s of audio (11× real time) · features 0.2 s · decode 0.1 s'"""
    total = float(timings.get("total", 0.0))
    rtf = audio_seconds / total if total > 0 else float("inf")
    rtf_s = f"{rtf:.0f}×" if rtf >= 10 else f"{rtf:.1f}×"
    parts = [f"{steps} step{'s' if steps != 1 else ''}",
             f"{total:.1f} s for {audio_seconds:.1f} s of audio ({rtf_s} real time)"]
    for key in ("features", "sampling", "decode"):
        if key in timings:
            parts.append(f"{key} {float(timings[key]):.1f} s")
    return " · ".join(parts)


class Workdirs:
    """Per-request output folders; only the newest `keep` survive (gradio copies what it serves)."""

    def __init__(self, root: str | None = None, keep: int = 16):
        self.root = root or tempfile.mkdtemp(prefix="salsav-demo-")
        self.keep = keep
        self._lock = threading.Lock()
        self._dirs: list[str] = []

    def new(self) -> str:
        d = tempfile.mkdtemp(dir=self.root)
        with self._lock:
            self._dirs.append(d)
            old, self._dirs = self._dirs[:-self.keep], self._dirs[-self.keep:]
        for o in old:
            shutil.rmtree(o, ignore_errors=True)
        return d


def run_request(pipeline: Pipeline, req: GenerateRequest, workdir: str, progress=None,
                out_name: str = "salsav", spectrogram_size: tuple[float, float] = (8.0, 2.6),
                title: str | None = None) -> DemoOutput:
    """One `Pipeline.run` and its outputs (video, int16 WAV, spectrogram, timings line)."""
    t0 = time.perf_counter()
    res: GenerationResult = pipeline.run(req, progress=progress,
                                         out_path=os.path.join(workdir, f"{out_name}.mp4"))
    seconds = time.perf_counter() - t0
    wave = np.asarray(res.wave, np.float32)                  # (n,)
    audio_path = write_wav_int16(os.path.join(workdir, f"{out_name}.wav"), wave, res.sample_rate)
    audio_seconds = len(wave) / res.sample_rate
    timings = dict(res.timings)
    timings.setdefault("total", seconds)
    image = render_spectrogram(wave, res.sample_rate, windows=res.windows,
                               reference_span=res.reference_span,
                               title=title if title is not None else
                               f"{req.steps} steps · guidance {req.guidance:g} · seed {res.seed}",
                               size=spectrogram_size)
    return DemoOutput(video_path=res.video_path, audio_path=audio_path, spectrogram=image,
                      timings_text=format_timings(req.steps, timings, audio_seconds),
                      seed=int(res.seed), seconds=seconds)
