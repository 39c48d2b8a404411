"""Materials of the SynthFoley world: how each looks and how it sounds when struck.

Sound is modal synthesis: a struck object rings at a few damped partials whose frequency
ratios, decay and brightness are set by the material (rubber: low, short, dull; glass:
high, long, bright). Looks: a base colour, a texture kind and an opacity.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Material:
    name: str                      # caption noun adjective, e.g. "wooden"
    key: str                       # short id used in events, e.g. "wood"
    color: tuple[int, int, int]    # base RGB
    texture: str                   # "stripes" | "shine" | "clear" | "band" | "speckle"
    alpha: float                   # opacity when drawn
    f0: tuple[float, float]        # fundamental range, Hz (for a ball of radius 0.06)
    ratios: tuple[float, ...]      # partial frequency ratios
    decay: float                   # fundamental decay time constant, s
    brightness: float              # partial k gets amplitude k**-(2 - brightness)
    click: float                   # broadband contact noise level
    restitution: float             # bounce coefficient on a hard floor
    density: float                 # relative mass per volume


MATERIALS: dict[str, Material] = {m.key: m for m in (
    Material("wooden", "wood", (150, 98, 48), "stripes", 1.0, (380.0, 620.0),
             (1.0, 2.57, 4.16, 5.43), 0.035, 0.7, 0.8, 0.55, 0.7),
    Material("metal", "metal", (168, 176, 188), "shine", 1.0, (900.0, 1500.0),
             (1.0, 2.76, 5.40, 8.93), 0.30, 1.3, 0.6, 0.62, 3.0),
    Material("glass", "glass", (150, 215, 235), "clear", 0.6, (1700.0, 2800.0),
             (1.0, 2.32, 4.25, 6.63), 0.16, 1.5, 0.6, 0.50, 1.0),
    Material("rubber", "rubber", (205, 40, 50), "band", 1.0, (110.0, 190.0),
             (1.0, 1.59, 2.14), 0.022, 0.2, 0.8, 0.78, 0.5),
    Material("stone", "stone", (118, 112, 100), "speckle", 1.0, (520.0, 820.0),
             (1.0, 1.73, 2.91, 4.32), 0.05, 0.9, 1.0, 0.45, 1.6),
)}

# Floors: the struck floor adds its own partials to every bounce.
FLOORS: tuple[str, ...] = ("wood", "metal", "stone")
FLOOR_COLORS: dict[str, tuple[int, int, int]] = {
    "wood": (120, 80, 45), "metal": (95, 100, 110), "stone": (105, 102, 95),
}
