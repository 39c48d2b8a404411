"""The classic world stays what it was: the bundled checkpoint, its eval seeds and every earlier
number depend on it. The reference (frames, events and audio of a few seeds, durations and
sizes) is the world of 38a3398, before the varied world existed.

Exact where the CPU cannot matter, within float rounding where it can. The physics solves its
contact times with BLAS dot products and `np.roots` (LAPACK), whose kernels differ by CPU:
OpenBLAS's AVX-512 kernels move event times by up to 4e-12 s and audio samples by one float32
ulp (3e-8) against its AVX2 ones. So the frames (uint8) are hashed, event kinds and materials
compared exactly, event times and strengths to 1e-9, and the audio by its length and the RMS
and mean of 50 blocks to 1e-6 (relative) + 1e-9.

`default_world_reference.json` was written by `OPENBLAS_CORETYPE=Haswell python
tests/data/test_data_default_world.py` at 0693afe, whose output there has the same sha256 of
frames, audio and event bits as the hashes computed at 38a3398 (on an AVX2 machine).
"""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from salsav_core.data.synthfoley import make_clip

REF_PATH = Path(__file__).parent / "default_world_reference.json"
KEYS = ["0/5.0/64", "3/5.0/64", "7/2.0/32", "11/8.0/128", "1000000005/10.0/64", "42/3.0/96"]
BLOCKS = 50


def reference(c) -> dict:
    audio = np.asarray(c.audio, np.float64)
    blocks = np.array_split(audio, BLOCKS)
    return {"frames": hashlib.sha256(c.frames.tobytes()).hexdigest()[:16],
            "events": [[e.time, e.kind, e.material, e.strength] for e in c.events],
            "audio_len": int(audio.size),
            "audio_rms": [float(np.sqrt(np.mean(b ** 2))) for b in blocks],
            "audio_mean": [float(np.mean(b)) for b in blocks]}


def _clip(key: str, world):
    seed, duration, size = key.split("/")
    args = (int(seed), float(duration), int(size))
    return make_clip(*args) if world is None else make_clip(*args, world=world)


@pytest.fixture(scope="module")
def stored():
    return json.loads(REF_PATH.read_text())["clips"]


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("world", [None, "default"])
def test_data_default_world_is_the_reference(stored, key, world):
    c = _clip(key, world)
    got, ref = reference(c), stored[key]
    assert got["frames"] == ref["frames"]
    assert [e[1:3] for e in got["events"]] == [e[1:3] for e in ref["events"]]
    np.testing.assert_allclose([(e[0], e[3]) for e in got["events"]],
                               [(e[0], e[3]) for e in ref["events"]], rtol=0, atol=1e-9)
    assert got["audio_len"] == ref["audio_len"]
    for stat in ("audio_rms", "audio_mean"):
        np.testing.assert_allclose(got[stat], ref[stat], rtol=1e-6, atol=1e-9)
    assert "world" not in c.scene


if __name__ == "__main__":   # one clip per line
    clips = ",\n".join(f"  {json.dumps(k)}: {json.dumps(reference(_clip(k, None)))}" for k in KEYS)
    REF_PATH.write_text('{\n "computed_at": "0693afe, OPENBLAS_CORETYPE=Haswell (bit-equal to 38a3398)",\n'
                        f' "clips": {{\n{clips}\n }}\n}}\n')
