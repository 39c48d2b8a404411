"""The classic world stays byte-identical: the bundled checkpoint, its eval seeds and every
earlier number depend on it. The hashes were computed from the code at 38a3398, before the
varied world existed (frames, audio and events of a few seeds, durations and sizes)."""
import hashlib
import json
from pathlib import Path

import pytest

from salsav_core.data.synthfoley import make_clip

REF = json.loads((Path(__file__).parent / "default_world_hashes.json").read_text())["clips"]


def _hashes(c) -> dict:
    ev = json.dumps([(e.time.hex(), e.kind, e.material, e.strength.hex()) for e in c.events])
    return {"frames": hashlib.sha256(c.frames.tobytes()).hexdigest()[:16],
            "audio": hashlib.sha256(c.audio.tobytes()).hexdigest()[:16],
            "events": hashlib.sha256(ev.encode()).hexdigest()[:16]}


@pytest.mark.parametrize("key", sorted(REF))
@pytest.mark.parametrize("world", [None, "default"])
def test_data_default_world_is_byte_identical(key, world):
    seed, duration, size = key.split("/")
    args = (int(seed), float(duration), int(size))
    c = make_clip(*args) if world is None else make_clip(*args, world=world)
    assert _hashes(c) == REF[key]
    assert "world" not in c.scene
