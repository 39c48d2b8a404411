"""World presets of SynthFoley: how much a clip's look and timing are randomized.

`make_clip(seed, duration, size)` is the classic world (the default, byte-identical to the
world the bundled checkpoint was trained and evaluated on, on the same kind of CPU: the physics
uses BLAS and LAPACK, whose AVX-512 kernels move event times by ~1e-12 s against AVX2 ones).
`make_clip(..., world="varied")` (or any `WorldConfig`) draws, per clip and from the clip's seed alone:

- appearance: background and floor colours and textures, ball colours (decoupled from the
  material with probability `random_colours`), ball sizes and spawn rate, lighting
  (brightness, contrast, colour cast, vignette, flicker), static clutter on the wall;
- camera: the source video's aspect ratio and resolution, the part of the world it frames
  (zoom and offset, the floor always in view), and how the pipeline fits it to the square
  model input (centre crop, as `video_io.read_frames` does, or letterbox bars);
- degradations at the source resolution: motion blur (the shutter open for part of the frame
  interval: the mean of 3 renders from the frame's time on), defocus blur, sensor noise,
  JPEG-style 8x8 DCT quantisation;
- timing: the source frame rate (24, 23.976, 25, 29.97, 30, 50, 60 fps); the world is drawn at
  that rate and resampled to 24 FPS by picking source frames as video readers do ("screen":
  the frame on screen at each output time, like `video_io.read_frames`; "near": the nearest
  frame, like ffmpeg's fps filter), so frames are dropped or repeated; event times stay exact;
- extra event kinds: a walker whose feet strike the floor periodically ("step") and boxes that
  are pushed, slide ("slide") and stop against a post ("hit").
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from .errors import SynthFoleyError


@dataclass(frozen=True)
class WorldConfig:
    name: str = "varied"
    source_fps: tuple = (Fraction(24), Fraction(24000, 1001), Fraction(25), Fraction(30000, 1001),
                         Fraction(30), Fraction(50), Fraction(60))
    resample: tuple = ("screen", "near")      # source frame -> 24 FPS rule (see module doc)
    aspects: tuple = (1.0, 4 / 3, 3 / 2, 16 / 9, 9 / 16, 3 / 4)   # source width / height
    fit: tuple = ("crop", "letterbox")         # source -> square model input
    source_scale: tuple = (0.5, 1.4)           # world render side / output size (log-uniform)
    zoom: tuple = (0.6, 1.0)                   # longer side of the framed window, world fractions
    radius_scale: tuple = (0.6, 1.5)           # ball size factor
    rate_scale: tuple = (0.5, 1.8)             # ball spawn-rate factor
    random_colours: float = 0.5                # P(a ball's colour ignores its material)
    random_background: float = 0.85            # P(a drawn background instead of the classic one)
    clutter: tuple = (0, 4)                    # static shapes on the wall (inclusive range)
    brightness: tuple = (0.55, 1.3)
    contrast: tuple = (0.7, 1.25)
    colour_cast: float = 0.15                  # max per-channel gain deviation
    vignette: float = 0.5                      # P(vignette)
    flicker: float = 0.25                      # P(light flicker, 2-8 % at 1-3 Hz)
    blur: tuple = (0.3, 1.4)                   # defocus sigma, source pixels
    blur_p: float = 0.35
    noise: tuple = (1.0, 9.0)                  # sensor noise std, 8-bit levels
    noise_p: float = 0.6
    jpeg_quality: tuple = (15, 85)
    jpeg_p: float = 0.6
    walker_p: float = 0.3                      # P(a walker crosses, periodic footsteps)
    slider_p: float = 0.3                      # P(boxes slide into a post)
    shutter_p: float = 0.25                    # P(motion blur: an open shutter)
    shutter: tuple = (0.3, 0.7)                # exposure, fraction of the source frame interval

    def check(self) -> "WorldConfig":
        if not self.source_fps or any(Fraction(f) < 20 or Fraction(f) > 120 for f in self.source_fps):
            raise SynthFoleyError("source_fps must be rates in [20, 120]")
        if set(self.resample) - {"screen", "near"} or not self.resample:
            raise SynthFoleyError("resample must be among 'screen', 'near'")
        if set(self.fit) - {"crop", "letterbox"} or not self.fit:
            raise SynthFoleyError("fit must be among 'crop', 'letterbox'")
        if not (0.3 <= self.zoom[0] <= self.zoom[1] <= 1.0):
            raise SynthFoleyError("zoom must lie in [0.3, 1]")
        return self


WORLDS: dict[str, WorldConfig | None] = {
    "default": None,                           # the classic world
    "varied": WorldConfig(),
}


def resolve(world) -> WorldConfig | None:
    """None / "default" -> None (the classic world); a preset name or a WorldConfig -> config."""
    if world is None:
        return None
    if isinstance(world, WorldConfig):
        return world.check()
    if isinstance(world, str) and world in WORLDS:
        w = WORLDS[world]
        return None if w is None else w.check()
    raise SynthFoleyError(f"world must be one of {sorted(WORLDS)} or a WorldConfig")
