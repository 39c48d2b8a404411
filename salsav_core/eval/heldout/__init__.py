"""An independent held-out world for `salsav eval --world heldout` (evaluation only).

`scene.make_scene(seed, duration)`: its own renderer and sound (no SynthFoley code);
`video.model_frames`: the scene through an mp4 and the product's reader;
`section.eval_heldout(pipe, HeldoutConfig)`: model, mismatched-control and true-audio rows.
"""
from .scene import FPS, HEIGHT, WIDTH, Impact, Scene, make_scene

__all__ = ["FPS", "HEIGHT", "WIDTH", "Impact", "Scene", "make_scene"]
