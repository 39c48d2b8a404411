"""One generation request, checked once against one set of limits.

`prepare(...)` checks every value of a request, probes the video once (`video_io.probe`) and
decodes the reference audio once, and returns a `GenerateRequest` that `Pipeline.run` executes
without reading either again. The CLI, the Python API (`Pipeline.generate`) and the demo all go
through it; `Limits` holds the core's bounds, and a front end with stricter needs (the demo)
passes `Limits.stricter(...)`. Every `GenerationError` message is a short sentence that is
safe to show a user: it names numbers, never echoes free text or file names.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass

import numpy as np

from . import video_io
from .config import LATENT_RATE, SAMPLE_RATE, latent_frames
from .media_errors import VideoError
from .video_mux import AUDIO_CODECS, DEFAULT_AUDIO_CODEC, audio_duration, read_audio
from .sampler import ALLOWED_STEPS, DEFAULT_SCHEDULE, SCHEDULES

SEED_RANGE = 2**32


class GenerationError(ValueError):
    """Bad generation request; the message is safe to show a user."""


class UnreadableVideo(GenerationError):
    """The video file cannot be used (not a video, damaged, no frames). The message may name
    the file; a web front end shows its own wording instead."""


@dataclass(frozen=True)
class Limits:
    """The bounds every request is checked against (CLI, Python API and, tightened, the demo)."""
    max_duration: float = 120.0             # seconds of audio generated in one request
    max_input_duration: float | None = None  # longest file accepted at all (None: any)
    min_guidance: float = 0.0
    max_guidance: float = 20.0
    max_reference: float = 60.0             # seconds of reference audio
    max_prompt_chars: int = 1000
    steps: tuple[int, ...] = ALLOWED_STEPS

    def stricter(self, **overrides) -> "Limits":
        """These limits with some tightened; loosening one raises ValueError (a front end may
        only add restrictions on top of the core's)."""
        new = dataclasses.replace(self, **overrides)
        looser = [k for k in ("max_duration", "max_guidance", "max_reference", "max_prompt_chars")
                  if getattr(new, k) > getattr(self, k)]
        if new.min_guidance < self.min_guidance:
            looser.append("min_guidance")
        if (self.max_input_duration is not None and
                (new.max_input_duration is None or new.max_input_duration > self.max_input_duration)):
            looser.append("max_input_duration")
        if not set(new.steps) <= set(self.steps):
            looser.append("steps")
        if looser:
            raise ValueError(f"stricter() cannot loosen {', '.join(looser)}")
        return new


@dataclass(frozen=True)
class Reference:
    """Reference audio, decoded once: placed at `start` seconds of the output and kept exactly."""
    wave: np.ndarray        # (n,) float32 mono
    sample_rate: int
    start: float

    @property
    def seconds(self) -> float:
        return len(self.wave) / float(self.sample_rate)

    @property
    def span(self) -> tuple[float, float]:
        return self.start, self.start + self.seconds


@dataclass(frozen=True)
class GenerateRequest:
    """A checked request, ready for `Pipeline.run`."""
    video: str
    info: video_io.VideoInfo    # the one probe of the video
    start: float                # seconds into the video
    duration: float             # seconds of audio to generate
    steps: int
    guidance: float
    seed: int
    prompt: str = ""
    negative_prompt: str = ""
    reference: Reference | None = None
    schedule: str = DEFAULT_SCHEDULE
    audio_codec: str = DEFAULT_AUDIO_CODEC     # the sound in the output mp4 (video_mux.AUDIO_CODECS)

    @property
    def trimmed(self) -> bool:
        """True when only part of the video is used (the output video is cut to it)."""
        return self.start > 0 or self.duration < self.info.duration - 1e-3


# ----------------------------------------------------------------------------- value checks

def finite_number(value, name: str) -> float:
    if isinstance(value, bool) or value is None or isinstance(value, str) and not value.strip():
        raise GenerationError(f"{name} must be a number.")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise GenerationError(f"{name} must be a number.") from None
    if not math.isfinite(x):
        raise GenerationError(f"{name} must be a finite number.")
    return x


def check_steps(steps, limits: Limits = Limits()) -> int:
    choices = limits.steps
    rule = (f"Steps must be a power of two from {choices[0]} to {choices[-1]} "
            f"({', '.join(map(str, choices))})")
    try:
        x = finite_number(steps, "Steps")
    except GenerationError:
        raise GenerationError(rule + ".") from None
    if x != int(x) or int(x) not in choices:
        raise GenerationError(f"{rule}; got {x:g}.")
    return int(x)


def check_guidance(guidance, limits: Limits = Limits()) -> float:
    x = finite_number(guidance, "Guidance")
    lo, hi = limits.min_guidance, limits.max_guidance
    if not lo <= x <= hi:
        raise GenerationError(f"Guidance must be between {lo:g} and {hi:g}; got {x:g}.")
    return x


def check_seed(seed) -> int:
    """A whole number in [0, 2**32); None draws one."""
    if seed is None or isinstance(seed, str) and not seed.strip():
        return int(np.random.default_rng().integers(0, 2**31 - 1))
    x = finite_number(seed, "Seed")
    if x != int(x) or not 0 <= x < SEED_RANGE:
        raise GenerationError(f"Seed must be a whole number from 0 to {SEED_RANGE - 1}.")
    return int(x)


def check_prompt(text, name: str, limits: Limits = Limits()) -> str:
    """Whitespace collapsed; at most limits.max_prompt_chars characters."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise GenerationError(f"{name} must be text.")
    text = " ".join(text.split())
    if len(text) > limits.max_prompt_chars:
        raise GenerationError(f"{name} is too long ({len(text)} characters; at most "
                              f"{limits.max_prompt_chars}).")
    return text


def check_schedule(schedule) -> str:
    if schedule not in SCHEDULES:
        raise GenerationError(f"Schedule must be one of {', '.join(SCHEDULES)}.")
    return schedule


def check_audio_codec(codec) -> str:
    if codec not in AUDIO_CODECS:
        raise GenerationError(f"The audio codec must be one of {', '.join(AUDIO_CODECS)}.")
    return codec


def check_range(start, duration, video_seconds: float, limits: Limits = Limits()) -> tuple[float, float]:
    """(start, duration) of the part of the video to generate for; duration None = to the end,
    a duration past the end stops at the end."""
    s = finite_number(start if start is not None else 0.0, "The start time")
    if s < 0:
        raise GenerationError(f"The start time cannot be negative (got {s:g} s).")
    if s >= video_seconds:
        raise GenerationError(f"The start time ({s:g} s) is beyond the end of the video "
                              f"({video_seconds:.2f} s).")
    avail = video_seconds - s
    d = avail if duration is None else finite_number(duration, "The duration")
    if d <= 0:
        raise GenerationError(f"The duration must be positive (got {d:g} s).")
    d = min(d, avail)
    if d > limits.max_duration + 1e-6:
        raise GenerationError(f"The clip is {d:.1f} s long, over the limit: at most "
                              f"{limits.max_duration:g} s is generated. Pick a shorter range.")
    if latent_frames(d) < 1 or d < 0.1:
        raise GenerationError(f"The clip is too short ({d:.2f} s); give at least 0.1 s.")
    return s, d


def check_reference_fits(seconds: float, start, clip_seconds: float,
                         limits: Limits = Limits()) -> float:
    """The reference (`seconds` long, placed at `start`) lies inside the clip; returns start."""
    s = finite_number(start if start is not None else 0.0, "The reference start")
    if seconds <= 0:
        raise GenerationError("The reference audio is empty.")
    if seconds > limits.max_reference + 1e-6:
        raise GenerationError(f"The reference audio is {seconds:.1f} s long; at most "
                              f"{limits.max_reference:g} s is used.")
    if s < 0:
        raise GenerationError(f"The reference start cannot be negative (got {s:g} s).")
    if s >= clip_seconds:
        raise GenerationError(f"The reference start ({s:g} s) is beyond the end of the clip "
                              f"({clip_seconds:.2f} s).")
    if seconds > clip_seconds + 1.0 / LATENT_RATE:
        raise GenerationError(f"The reference audio ({seconds:.2f} s) is longer than the clip "
                              f"({clip_seconds:.2f} s).")
    if s + seconds > clip_seconds + 1.0 / LATENT_RATE:
        raise GenerationError(f"The reference audio ({seconds:.2f} s from {s:g} s) runs past the "
                              f"end of the clip ({clip_seconds:.2f} s); move it earlier.")
    return s


# ----------------------------------------------------------------------------- media

def probe_video(video, limits: Limits = Limits()) -> video_io.VideoInfo:
    """The one probe of a request's video."""
    if video is None or not str(video).strip():
        raise GenerationError("No video was given.")
    try:
        info = video_io.probe(os.fspath(video))
    except VideoError as e:
        raise UnreadableVideo(str(e)[:1].upper() + str(e)[1:] + ".") from None
    if limits.max_input_duration is not None and info.duration > limits.max_input_duration + 1e-6:
        raise GenerationError(f"The video is {info.duration:.0f} s long; files longer than "
                              f"{limits.max_input_duration:g} s are not accepted.")
    return info


def load_audio(path: str, max_seconds: float | None = None) -> tuple[np.ndarray, int]:
    """Mono float32 wave (n,) and its rate from an audio file: wav/flac/ogg through soundfile,
    anything else (mp3, a video's audio track) through ffmpeg at 44.1 kHz. Longer than
    `max_seconds` raises GenerationError without decoding the whole file."""
    # soundfile is imported here: the training path (and the GPU machine) has no libsndfile.
    import soundfile as sf
    limit = "" if max_seconds is None else f" of at most {max_seconds:g} s"
    try:
        info = sf.info(path)
    except (RuntimeError, TypeError):   # soundfile.LibsndfileError: not a format it reads
        info = None
    try:
        if info is not None:
            seconds = info.duration
        else:
            has_audio, seconds = audio_duration(path)
            if not has_audio:
                raise GenerationError("The reference file has no audio stream.")
        if max_seconds is not None and seconds is not None and seconds > max_seconds + 0.05:
            raise GenerationError(f"The reference audio is {seconds:.1f} s long; at most "
                                  f"{max_seconds:g} s is used.")
        if info is not None:
            wave, sr = sf.read(path, dtype="float32", always_2d=True)
            wave, sr = wave.mean(axis=1), int(sr)
        else:
            wave, sr = read_audio(path, sr=SAMPLE_RATE, max_seconds=max_seconds), SAMPLE_RATE
    except VideoError:
        raise GenerationError(f"The reference audio could not be read; use a wav, mp3, flac or "
                              f"ogg file{limit}.") from None
    wave = np.nan_to_num(np.asarray(wave, np.float32))           # (n,)
    if wave.size == 0:
        raise GenerationError("The reference audio is empty.")
    return wave, sr


def read_reference(audio, start, clip_seconds: float, limits: Limits = Limits()) -> Reference | None:
    """The one decode of the optional reference: None, a path, or (wave, sr)."""
    if audio is None or isinstance(audio, (str, os.PathLike)) and not os.fspath(audio):
        return None
    if isinstance(audio, (tuple, list)):
        wave, sr = audio
        wave = np.asarray(wave)
        if wave.ndim == 2:
            wave = wave.T if wave.shape[0] < wave.shape[1] else wave     # (ch, n) -> (n, ch)
            wave = wave.mean(axis=1)
        if wave.dtype.kind in "iu":
            wave = wave.astype(np.float32) / np.iinfo(wave.dtype).max
        wave, sr = np.nan_to_num(np.asarray(wave, np.float32)), int(sr)
    else:
        wave, sr = load_audio(os.fspath(audio), max_seconds=limits.max_reference)
    s = check_reference_fits(len(wave) / float(sr), start, clip_seconds, limits)
    return Reference(wave=wave, sample_rate=sr, start=s)


def prepare(video: str | os.PathLike, prompt: str = "", negative_prompt: str = "", steps=8, guidance=4.0,
            seed=None, reference_audio=None, reference_start=0.0, start=0.0, duration=None,
            schedule: str = DEFAULT_SCHEDULE, audio_codec: str = DEFAULT_AUDIO_CODEC,
            limits: Limits = Limits()) -> GenerateRequest:
    """Check every value (cheap ones first), probe the video, decode the reference."""
    steps = check_steps(steps, limits)
    guidance = check_guidance(guidance, limits)
    schedule = check_schedule(schedule)
    audio_codec = check_audio_codec(audio_codec)
    seed = check_seed(seed)
    prompt = check_prompt(prompt, "The prompt", limits)
    negative_prompt = check_prompt(negative_prompt, "The negative prompt", limits)
    info = probe_video(video, limits)
    start, duration = check_range(start, duration, info.duration, limits)
    reference = read_reference(reference_audio, reference_start, duration, limits)
    return GenerateRequest(video=os.fspath(video), info=info, start=start, duration=duration,
                           steps=steps, guidance=guidance, seed=seed, prompt=prompt,
                           negative_prompt=negative_prompt, reference=reference, schedule=schedule,
                           audio_codec=audio_codec)
