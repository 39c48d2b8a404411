"""SynthFoley: contract shapes, determinism, audible events, silent spans, captions."""

import numpy as np
import pytest

from salsav_core.config import num_frames
from salsav_core.data.materials import MATERIALS
from salsav_core.data.synthfoley import (HELDOUT_SEED0, SILENT_RMS, SynthFoleyError, iter_clips,
                                         make_clip, make_long_clip)

from data_helpers import onset_times


@pytest.mark.parametrize("duration,size", [(0.5, 32), (1.0, 64), (2.37, 48), (5.0, 64), (8.0, 96)])
def test_data_contract_shapes(duration, size):
    c = make_clip(3, duration, size)
    assert c.frames.shape == (num_frames(duration, 24), size, size, 3) and c.frames.dtype == np.uint8
    assert c.audio.shape == (round(duration * 44100),) and c.audio.dtype == np.float32
    assert np.abs(c.audio).max() <= 1.0 and np.isfinite(c.audio).all()
    times = [e.time for e in c.events]
    assert times == sorted(times) and all(0 <= t < duration for t in times)
    assert all(e.kind in {"bounce", "collision", "enter", "exit"} for e in c.events)
    assert all(0 < e.strength <= 1 for e in c.events)
    assert isinstance(c.caption, str) and len(c.caption) > 10
    for key in ("engine_speed", "engine_f0", "ambience_level"):
        assert c.continuous[key].shape == (len(c.frames),)


def test_data_determinism():
    a, b, other = make_clip(11), make_clip(11), make_clip(12)
    assert a.audio.tobytes() == b.audio.tobytes() and a.frames.tobytes() == b.frames.tobytes()
    assert a.events == b.events and a.caption == b.caption
    assert a.audio.tobytes() != other.audio.tobytes() and a.frames.tobytes() != other.frames.tobytes()
    assert make_clip(HELDOUT_SEED0 + 1).audio.tobytes() != make_clip(1).audio.tobytes()


def test_data_events_have_audible_onsets(clips):
    """Each event has a detected onset within 10 ms; random times do not."""
    rng = np.random.default_rng(0)
    hits = total = isolated_miss = chance_hits = 0
    errors = []
    for c in clips:
        on = onset_times(c.audio)
        ev = np.array([e.time for e in c.events])
        for t in ev:
            d = np.abs(on - t)
            total += 1
            if d.min() <= 0.010:
                hits += 1
                errors.append(on[d.argmin()] - t)
            elif np.sort(np.abs(ev - t))[1:2].min(initial=1.0) > 0.025:
                isolated_miss += 1                  # no other event within 25 ms to blame
        fake = rng.uniform(0.05, c.duration - 0.05, len(ev))
        chance_hits += sum(np.abs(on - t).min() <= 0.010 for t in fake)
    print(f"\nonset recall {hits}/{total}, median |err| {1000 * np.median(np.abs(errors)):.1f} ms, "
          f"random-time recall {chance_hits}/{total}")
    assert total > 50
    assert hits / total >= 0.97 and isolated_miss <= 1
    assert chance_hits / total < 0.3


def test_data_onset_is_at_event_time_not_before():
    """The sound of an isolated event starts exactly at its time: nothing before it."""
    for seed in range(20):
        c = make_clip(seed)
        if c.scene["scene"] != "indoor" or c.scene["cars"] or not c.events:
            continue
        e = c.events[0]
        i = int(np.ceil(e.time * 44100))
        assert np.abs(c.audio[:i]).max() == 0.0
        assert np.abs(c.audio[i:i + 441]).max() > 0.05
        return
    pytest.fail("no quiet indoor clip among 20 seeds")


def test_data_silent_spans_are_silent_with_motion(clips):
    spans = [(c, s) for c in clips for s in c.silent_spans]
    assert len(spans) >= 4, "too few silent spans in 12 clips"
    for c, (a, b) in spans:
        assert b - a >= 0.4
        seg = c.audio[int(a * 44100):int(b * 44100)]
        rms = np.sqrt(np.mean(seg.astype(np.float64) ** 2))
        ev_rms = max((np.sqrt(np.mean(c.audio[int(e.time * 44100):int(e.time * 44100) + 882] ** 2))
                      for e in c.events), default=0.1)
        assert rms < SILENT_RMS and rms < ev_rms / 100
        assert not any(a <= e.time <= b for e in c.events)
        f = c.frames[int(np.ceil(a * 24)):int(b * 24) + 1].astype(np.int16)
        moving = np.abs(np.diff(f, axis=0)).reshape(len(f) - 1, -1).max(1) > 0
        assert moving.mean() >= 0.9, "silent span without visible motion"


def test_data_caption_names_materials_and_scene(clips):
    scene_words = {"rain": ("rain",), "wind": ("wind",), "indoor": ("room", "indoors")}
    for c in clips:
        text = c.caption.lower()
        for m in c.scene["materials"]:
            assert MATERIALS[m].name in text, (m, c.caption)
        assert f"{MATERIALS[c.scene['floor']].name} floor" in text
        assert any(w in text for w in scene_words[c.scene["scene"]])
        assert ("collide" in text) == any(e.kind == "collision" for e in c.events)


def test_data_world_variety(clips):
    kinds = {e.kind for c in clips for e in c.events}
    assert kinds == {"bounce", "collision", "enter", "exit"}
    assert {c.scene["scene"] for c in clips} == {"indoor", "rain", "wind"}
    assert len({m for c in clips for m in c.scene["materials"]}) >= 4
    assert any(c.continuous["engine_level"].max() > 0 for c in clips)
    # the engine's pitch follows the car's visible speed
    c = next(c for c in clips if c.continuous["engine_level"].max() > 0)
    on = c.continuous["engine_level"] > 0
    assert np.corrcoef(c.continuous["engine_speed"][on], c.continuous["engine_f0"][on])[0, 1] > 0.99
    # event times differ from clip to clip (no fixed grid a blind model could learn)
    firsts = [c.events[0].time for c in clips if c.events]
    assert len(set(np.round(firsts, 2))) >= len(firsts) - 1


def test_data_long_clip_and_stream():
    c = make_long_clip(7, 30.0, 32)
    assert c.frames.shape == (720, 32, 32, 3) and len(c.audio) == 30 * 44100
    assert c.events[-1].time > 20 and len(c.events) > 20
    got = list(iter_clips([1, 2], 1.0, 32))
    assert [g.seed for g in got] == [1, 2] and got[0].audio.tobytes() == make_clip(1, 1.0, 32).audio.tobytes()


def test_data_bad_arguments():
    for args in [(-1,), (1, 0.0), (1, 5.0, 63), ("x",)]:
        with pytest.raises(SynthFoleyError):
            make_clip(*args)


def test_data_write_mp4(tmp_path):
    """The mp4 read back by the product's reader: the same pictures, and the sound in place
    (the AAC encoder's priming delay compensated by the mp4 edit list)."""
    from salsav_core.data.synthfoley import write_mp4
    from salsav_core.video_io import read_frames
    from salsav_core.video_mux import read_audio

    c = make_clip(5, 2.0, 64)
    path = write_mp4(c, tmp_path / "c.mp4")
    frames = read_frames(path, c.fps, 64, duration=2.0)
    assert frames.shape == c.frames.shape
    assert np.abs(frames.astype(int) - c.frames.astype(int)).mean() < 6
    audio = read_audio(path, c.sample_rate)
    assert abs(len(audio) - len(c.audio)) < 0.03 * c.sample_rate
    n = min(len(audio), len(c.audio))
    env = lambda x: np.convolve(np.abs(x[:n]), np.ones(64) / 64, "same")   # noqa: E731
    lags = np.arange(-400, 401)
    xc = [np.dot(np.roll(env(audio), -k), env(c.audio)) for k in lags]
    assert abs(lags[int(np.argmax(xc))]) < 0.003 * c.sample_rate           # within 3 ms
    assert np.corrcoef(env(audio), env(c.audio))[0, 1] > 0.9
