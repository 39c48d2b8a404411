"""Caption templates naming the materials, the floor and the scene."""
from __future__ import annotations

import numpy as np

from .materials import MATERIALS

_NUM = {1: "a", 2: "two", 3: "three", 4: "four", 5: "five"}
_SCENE = {"rain": ("in the rain", "on a rainy day"),
          "wind": ("on a windy day", "in the wind"),
          "indoor": ("in a quiet room", "indoors")}
_MOVER = {"balloon": "a balloon drifts silently", "pendulum": "a pendulum swings silently"}


def _balls(counts: dict[str, int]) -> str:
    parts = []
    for key, n in counts.items():
        adj = MATERIALS[key].name
        art = ("an" if adj[0] in "aeiou" else "a") if n == 1 else _NUM.get(n, "several")
        parts.append(f"{art} {adj} ball" + ("s" if n > 1 else ""))
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def make_caption(counts: dict[str, int], floor: str, scene: str, collide: bool,
                 car: bool, mover: str | None, rng: np.random.Generator) -> str:
    """counts: material key -> number of balls in the clip (insertion order kept)."""
    many = sum(counts.values()) > 1
    verb = ("bounce" if many else "bounces") + (" and collide" if collide else "")
    where = _SCENE[scene][rng.integers(2)]
    floor_s = f"on a {MATERIALS[floor].name} floor"
    if counts:
        main = f"{_balls(counts)} {verb} {floor_s}"
        main = f"{main} {where}" if rng.random() < 0.5 else f"{where}, {main}"
    else:
        main = f"an empty {MATERIALS[floor].name} floor {where}"
    extras = []
    if car:
        extras.append("a car drives past")
    if mover:
        extras.append(_MOVER[mover])
    text = main + "".join(f", while {e}" if i == 0 else f" and {e}" for i, e in enumerate(extras))
    return text[0].upper() + text[1:] if rng.random() < 0.5 else text
