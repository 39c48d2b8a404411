"""What one demo request does, without any UI: check the values, run the pipeline, and
turn its result into the files and text the page shows."""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass

import numpy as np

from webapp.media import check_upload, load_audio, probe_video, write_wav_int16
from webapp.settings import DemoSettings
from webapp.spectrogram import render_spectrogram
from webapp.validation import (DemoInputError, GenerateRequest, check_guidance, check_prompt,
                               check_range, check_reference, check_seed, check_steps)


@dataclass
class DemoOutput:
    video_path: str
    audio_path: str             # int16 WAV
    spectrogram: np.ndarray     # (H, W, 3) uint8
    timings_text: str
    seed: int
    seconds: float              # wall time of generate()


def build_request(settings: DemoSettings, video, prompt, negative_prompt, steps, guidance, seed,
                  random_seed, reference_audio, reference_start, trim, start, end) -> GenerateRequest:
    """Checks every value (cheap ones first) and probes the uploads."""
    steps = check_steps(steps, settings)
    guidance = check_guidance(guidance, settings)
    seed = check_seed(seed, bool(random_seed))
    prompt = check_prompt(prompt, "Prompt", settings)
    negative_prompt = check_prompt(negative_prompt, "Negative prompt", settings)
    path = check_upload(video, settings, "video")
    info = probe_video(path)
    if info.duration > settings.max_input_seconds:
        raise DemoInputError(f"The video is {info.duration:.0f} s long; files longer than "
                             f"{settings.max_input_seconds:g} s are not accepted.")
    start_s, duration = check_range(bool(trim), start, end, info.duration, settings)
    ref_path, ref_start, ref_seconds = None, 0.0, 0.0
    if reference_audio not in (None, ""):
        ref_path = check_upload(reference_audio, settings, "reference audio")
        wave, sr = load_audio(ref_path)
        ref_seconds = len(wave) / sr
        ref_start = check_reference(ref_seconds, reference_start, duration, settings)
    return GenerateRequest(video_path=path, prompt=prompt, negative_prompt=negative_prompt,
                           steps=steps, guidance=guidance, seed=seed, start=start_s,
                           duration=duration, reference_path=ref_path, reference_start=ref_start,
                           reference_seconds=ref_seconds)


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


def run_request(pipeline, req: GenerateRequest, workdir: str, progress=None,
                out_name: str = "salsav", spectrogram_size: tuple[float, float] = (8.0, 2.6),
                title: str | None = None) -> DemoOutput:
    """One `generate()` call and its outputs (video, int16 WAV, spectrogram, timings line)."""
    reference = None
    if req.reference_path is not None:
        reference = load_audio(req.reference_path)          # ((n,), sr)
    t0 = time.perf_counter()
    res = pipeline.generate(req.video_path, prompt=req.prompt, negative_prompt=req.negative_prompt,
                            steps=req.steps, guidance=req.guidance, seed=req.seed,
                            reference_audio=reference, reference_start=req.reference_start,
                            duration=req.duration, start=req.start, progress=progress,
                            out_path=os.path.join(workdir, f"{out_name}.mp4"))
    seconds = time.perf_counter() - t0
    wave = np.asarray(res.wave, np.float32)                  # (n,)
    audio_path = write_wav_int16(os.path.join(workdir, f"{out_name}.wav"), wave, res.sample_rate)
    audio_seconds = len(wave) / res.sample_rate
    timings = dict(res.timings)
    timings.setdefault("total", seconds)
    image = render_spectrogram(wave, res.sample_rate, windows=res.windows,
                               reference_span=getattr(res, "reference_span", None),
                               title=title if title is not None else
                               f"{req.steps} steps · guidance {req.guidance:g} · seed {res.seed}",
                               size=spectrogram_size)
    return DemoOutput(video_path=res.video_path, audio_path=audio_path, spectrogram=image,
                      timings_text=format_timings(req.steps, timings, audio_seconds),
                      seed=int(res.seed), seconds=seconds)
