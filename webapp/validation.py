"""Server-side checks of every value a request carries (page or API alike).

Pure functions over plain values: they return the cleaned value or raise `DemoInputError`
with a message that is safe and useful to show a visitor. The media probes that produce
`VideoInfo` live in `webapp.media`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from webapp.settings import DemoSettings


class DemoInputError(ValueError):
    """A request value the demo refuses; the message is shown to the user as is."""


@dataclass(frozen=True)
class VideoInfo:
    duration: float     # seconds
    fps: float
    width: int
    height: int
    n_frames: int


@dataclass(frozen=True)
class GenerateRequest:
    """A checked request, ready for `Pipeline.generate`."""
    video_path: str
    prompt: str
    negative_prompt: str
    steps: int
    guidance: float
    seed: int | None            # None = draw a random seed
    start: float                # seconds into the video
    duration: float             # seconds of audio to generate
    reference_path: str | None
    reference_start: float      # seconds into the output
    reference_seconds: float    # length of the reference audio (0 without one)


def _finite_number(value, name: str) -> float:
    if isinstance(value, bool) or value is None:
        raise DemoInputError(f"{name} must be a number, got {value!r}.")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise DemoInputError(f"{name} must be a number, got {value!r}.") from None
    if not math.isfinite(x):
        raise DemoInputError(f"{name} must be a finite number, got {value!r}.")
    return x


def check_steps(steps, settings: DemoSettings) -> int:
    x = _finite_number(steps, "Steps")
    choices = settings.step_choices
    if x != int(x) or int(x) not in choices:
        raise DemoInputError(f"Steps must be a power of two from {choices[0]} to {choices[-1]} "
                             f"({', '.join(map(str, choices))}); got {steps!r}.")
    return int(x)


def check_guidance(guidance, settings: DemoSettings) -> float:
    x = _finite_number(guidance, "Guidance")
    if not settings.guidance_min <= x <= settings.guidance_max:
        raise DemoInputError(f"Guidance must be between {settings.guidance_min:g} and "
                             f"{settings.guidance_max:g}; got {guidance!r}.")
    return x


def check_seed(seed, randomize: bool) -> int | None:
    """None means 'draw one'. A given seed must be a whole number in [0, 2**32)."""
    if randomize or seed is None or seed == "":
        return None
    x = _finite_number(seed, "Seed")
    if x != int(x) or not 0 <= x < 2**32:
        raise DemoInputError(f"Seed must be a whole number from 0 to {2**32 - 1}; got {seed!r}.")
    return int(x)


def check_prompt(text, name: str, settings: DemoSettings) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        raise DemoInputError(f"{name} must be text.")
    text = " ".join(text.split())
    if len(text) > settings.max_prompt_chars:
        raise DemoInputError(f"{name} is too long ({len(text)} characters; at most "
                             f"{settings.max_prompt_chars}).")
    return text


def check_video_info(info: VideoInfo) -> VideoInfo:
    if info.n_frames <= 0 or info.duration <= 0:
        raise DemoInputError("The video has no frames.")
    if info.width <= 0 or info.height <= 0:
        raise DemoInputError("The video has no picture (width or height is 0).")
    return info


def check_range(trim: bool, start, end, video_seconds: float, settings: DemoSettings) -> tuple[float, float]:
    """(start, duration) of the span to score: the whole video, or start..end when trimming."""
    if not trim:
        start_s, end_s = 0.0, video_seconds
    else:
        start_s = _finite_number(start if start is not None else 0.0, "Start time")
        end_s = _finite_number(end, "End time") if end not in (None, "", 0, 0.0) else video_seconds
        if start_s < 0:
            raise DemoInputError(f"Start time cannot be negative; got {start_s:g} s.")
        if start_s >= video_seconds:
            raise DemoInputError(f"Start time {start_s:g} s is beyond the end of the video "
                                 f"({video_seconds:.2f} s).")
        if end_s <= start_s:
            raise DemoInputError(f"End time ({end_s:g} s) must come after the start time ({start_s:g} s).")
        end_s = min(end_s, video_seconds)
    duration = end_s - start_s
    if duration > settings.max_video_seconds + 1e-6:
        raise DemoInputError(f"The clip is {duration:.1f} s long; this demo generates at most "
                             f"{settings.max_video_seconds:g} s. Trim it to a shorter range.")
    if duration < 0.1:
        raise DemoInputError(f"The clip is too short ({duration:.2f} s); give at least 0.1 s.")
    return start_s, duration


def check_reference(reference_seconds: float, reference_start, clip_seconds: float,
                    settings: DemoSettings) -> float:
    """Checks that the reference audio fits inside the generated clip; returns its start."""
    start = _finite_number(reference_start if reference_start is not None else 0.0, "Reference start")
    if reference_seconds <= 0:
        raise DemoInputError("The reference audio is empty.")
    if reference_seconds > settings.max_reference_seconds + 1e-6:
        raise DemoInputError(f"The reference audio is {reference_seconds:.1f} s long; at most "
                             f"{settings.max_reference_seconds:g} s is used.")
    if reference_seconds > clip_seconds + 1e-6:
        raise DemoInputError(f"The reference audio ({reference_seconds:.1f} s) is longer than the "
                             f"clip ({clip_seconds:.1f} s).")
    if start < 0:
        raise DemoInputError(f"Reference start cannot be negative; got {start:g} s.")
    if start >= clip_seconds:
        raise DemoInputError(f"Reference start {start:g} s is beyond the end of the clip "
                             f"({clip_seconds:.1f} s).")
    if start + reference_seconds > clip_seconds + 1e-3:
        raise DemoInputError(f"The reference audio ({reference_seconds:.1f} s from {start:g} s) runs "
                             f"past the end of the clip ({clip_seconds:.1f} s); move it earlier.")
    return start
