"""The eval configuration: what `salsav eval` runs, and its checks (`EvalError` on bad input)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import sampler
from ..data.synthfoley import HELDOUT_SEED0

SECTIONS = ("steps", "reference", "controls", "conditioning", "long")


class EvalError(ValueError):
    """Bad evaluation request (message safe to print)."""


def check_unseen_tail(seconds: float, refs, what: str, margin: float = 0.5) -> None:
    """Conditioning clips need an unseen tail of at least `margin` s after the longest reference."""
    if seconds < max(refs) + margin:
        raise EvalError(f"{what} ({seconds:g} s) must be at least the largest reference "
                        f"({max(refs):g} s) + {margin:g} s")


@dataclass(frozen=True)
class EvalConfig:
    clips: int = 24                               # 5 s clips for steps / controls / reference
    steps: tuple = (1, 2, 4, 8, 16, 32)
    guidance: float = 4.0
    schedule: str = sampler.DEFAULT_SCHEDULE      # step sizes (sampler.step_sizes)
    seed0: int = HELDOUT_SEED0                    # held-out clip seeds start here (>= 10**9)
    duration: float = 5.0
    control_steps: int = 8
    shift_seconds: float = 0.5
    cond_clips: int = 24
    cond_seconds: float = 9.5                     # across-window variant: 2 windows of 5 s
    cond_refs: tuple = (0.0, 0.5, 1.0, 2.0, 4.0)
    cond_steps: int = 8
    long_clips: int = 2
    long_seconds: float = 60.0
    segment_seconds: float = 10.0
    long_steps: int = 8
    chance_shifts: int = 20
    prompt: str = "caption"                       # "caption" (the clip's caption) or "none"
    skip: frozenset = field(default_factory=frozenset)

    # Seed offsets keep the clip sets of the sections disjoint.
    COND_OFFSET = 100_000             # across-window conditioning clips
    COND_WINDOW_OFFSET = 150_000      # in-window conditioning clips
    LONG_OFFSET = 200_000

    def check(self) -> "EvalConfig":
        if self.seed0 < HELDOUT_SEED0:
            raise EvalError(f"--seed0 must be >= {HELDOUT_SEED0} (held-out seeds); got {self.seed0}")
        if self.clips < 2:
            raise EvalError("need at least 2 clips (the other-video control pairs clips)")
        bad = [s for s in self.steps if s not in sampler.ALLOWED_STEPS]
        if bad or not self.steps:
            raise EvalError(f"steps must be among {sampler.ALLOWED_STEPS}; got {list(self.steps)}")
        if self.schedule not in sampler.SCHEDULES:
            raise EvalError(f"schedule must be one of {sampler.SCHEDULES}; got {self.schedule!r}")
        if not (math.isfinite(self.guidance) and self.guidance >= 0):
            raise EvalError(f"guidance must be finite and >= 0; got {self.guidance}")
        if "conditioning" not in self.skip:
            check_unseen_tail(self.cond_seconds, self.cond_refs, "conditioning clips")
        if "long" not in self.skip and self.long_seconds < self.segment_seconds:
            raise EvalError("--long-seconds must be at least one segment long")
        unknown = set(self.skip) - set(SECTIONS)
        if unknown:
            raise EvalError(f"unknown --skip sections {sorted(unknown)}; choose from {SECTIONS}")
        return self

