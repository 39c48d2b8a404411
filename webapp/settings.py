"""Demo limits and defaults as a frozen dataclass with named presets.

Every limit the server enforces (upload size, clip length, step counts, guidance range)
lives here, so the page and the API agree on one set of numbers. The generation limits are
the core's (`salsav_core.request.Limits`) made stricter: `DemoSettings.limits()`.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from salsav_core.request import Limits
from salsav_core.sampler import ALLOWED_STEPS

STEP_CHOICES = ALLOWED_STEPS   # the shortcut model's powers of two


@dataclass(frozen=True)
class DemoSettings:
    checkpoint: str = "checkpoints/salsav-synthfoley"
    model_card: str = "checkpoints/salsav-synthfoley/README.md"
    examples_dir: str = "examples"
    max_file_size: str = "50mb"           # gradio's upload limit (passed to launch / mount)
    max_file_bytes: int = 50 * 2**20      # the same limit, checked again server-side
    max_video_seconds: float = 60.0       # longest clip (after trimming) we generate for
    max_input_seconds: float = 600.0      # longest file we even probe
    max_reference_seconds: float = 30.0
    max_prompt_chars: int = 300
    step_choices: tuple[int, ...] = STEP_CHOICES
    default_steps: int = 8
    guidance_min: float = 1.0
    guidance_max: float = 10.0
    default_guidance: float = 4.0
    compare_steps: tuple[int, ...] = (1, 2, 4, 8, 32)
    queue_max_size: int = 16              # waiting requests beyond this are refused
    concurrency_limit: int = 1            # one model in memory, one request at a time
    warmup_seconds: float = 1.0           # length of the clip used to compile at start-up

    def limits(self, base: Limits = Limits()) -> Limits:
        """The core's limits with the demo's stricter numbers on top (never looser)."""
        return base.stricter(max_duration=self.max_video_seconds,
                             max_input_duration=self.max_input_seconds,
                             min_guidance=self.guidance_min, max_guidance=self.guidance_max,
                             max_reference=self.max_reference_seconds,
                             max_prompt_chars=self.max_prompt_chars, steps=self.step_choices)


SETTINGS_PRESETS: dict[str, DemoSettings] = {
    "default": DemoSettings(),
    # Small limits so tests can hit "over-long video" with a 3 s clip.
    "test": DemoSettings(max_video_seconds=2.5, max_input_seconds=60.0, max_reference_seconds=5.0,
                         max_file_size="5mb", max_file_bytes=5 * 2**20, queue_max_size=8,
                         warmup_seconds=1.0),
}


def settings_preset(name: str, **overrides) -> DemoSettings:
    try:
        base = SETTINGS_PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown settings preset {name!r}; choose from {sorted(SETTINGS_PRESETS)}") from None
    return replace(base, **overrides)
