"""The independent held-out world: exact impacts, its own look and sound, the product's
reader, and the `--world heldout` eval section with its mismatched control."""
import ast
from pathlib import Path

import numpy as np
import pytest

from salsav_core import metrics
from salsav_core.eval.heldout import scene as hs
from salsav_core.eval.heldout.scene import FPS, HEIGHT, WIDTH, make_scene
from salsav_core.eval.heldout.video import model_frames

HELDOUT_DIR = Path(hs.__file__).parent


@pytest.fixture(scope="module")
def scenes():
    return [make_scene(s, 5.0) for s in range(6)]


def test_heldout_contract_and_determinism(scenes):
    s = scenes[0]
    assert s.frames.shape == (5 * FPS, HEIGHT, WIDTH, 3) and s.frames.dtype == np.uint8
    assert s.audio.shape == (5 * 44100,) and s.audio.dtype == np.float32 and np.abs(s.audio).max() <= 1
    times = [e.time for e in s.events]
    assert times == sorted(times) and all(0 < t < 5 for t in times)
    again = make_scene(0, 5.0)
    assert again.frames.tobytes() == s.frames.tobytes() and again.audio.tobytes() == s.audio.tobytes()
    assert again.events == s.events
    assert scenes[1].frames.tobytes() != s.frames.tobytes()
    assert {e.kind for sc in scenes for e in sc.events} == {"drop", "hop"}
    with pytest.raises(ValueError):
        make_scene(-1)


def test_heldout_impacts_are_exact_contacts():
    """Every impact time is the instant the sprite's bottom reaches the ground, falling."""
    rng = np.random.default_rng(4)
    n = 0
    for k in range(40):
        sp, impacts = hs._plan_sprite(rng, 0.3 * k, 60.0)
        for imp in impacts:
            c = sp.size / 2
            assert sp.height(np.array([imp.time]))[0] == pytest.approx(c, abs=1e-9)
            before = sp.height(np.array([imp.time - 0.01]))[0]
            assert before > c + 0.005                      # in the air 10 ms earlier
            n += 1
        if sp.kind == "hop":                               # steady hopping: periodic impacts
            assert np.allclose(np.diff([i.time for i in impacts]), 2 * sp.hops[0][2] / hs.G)
    assert n > 100


def test_heldout_sound_starts_at_each_impact(scenes):
    """The project's onset detector finds (nearly) every impact in the true audio, within
    a few ms: the scene's sound is real audio tied to the exact times."""
    errs, hit, total = [], 0, 0
    for s in scenes:
        t = metrics.merge_events([e.time for e in s.events], 0.05)
        on = metrics.detect_onsets(s.audio, 44100)
        r = metrics.sync_scores(t, on, 0.05)
        hit, total = hit + r["n_matched"], total + r["n_true"]
        errs.append(r["median_ms"])
    assert total > 30 and hit / total > 0.9
    assert np.nanmedian(errs) < 6


def test_heldout_shares_no_code_with_synthfoley():
    for path in HELDOUT_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                mod = ("." * node.level) + (node.module or "")
                assert "data" not in mod.split("."), f"{path.name} imports {mod}"
            if isinstance(node, ast.Import):
                assert not any("salsav_core.data" in a.name for a in node.names)


def test_heldout_frames_through_the_product_reader(scenes):
    """The mp4 read back: 8 and 24 FPS square frames; frame i at 24 FPS shows the 30 fps frame
    on screen at i/24 (frames dropped, never a later one). Frame k of a probe scene is flat
    grey at level 20 + 3k, so each output frame says which source frame it shows."""
    f8, f24 = model_frames(scenes[2], 32, 48)
    assert f8.shape == (40, 32, 32, 3) and f24.shape == (120, 48, 48, 3)
    assert np.abs(f24[60].astype(float) - f24[61]).mean() > 0               # the picture moves
    T = 2 * FPS
    grey = (20 + 3 * np.arange(T)).astype(np.uint8)[:, None, None, None] * np.ones((1, HEIGHT, WIDTH, 3), np.uint8)
    probe = hs.Scene(seed=10 ** 6, duration=2.0, frames=grey, audio=np.zeros(2 * 44100, np.float32),
                     events=[])
    _, g24 = model_frames(probe, 32, 32)
    shown = np.round((g24.reshape(len(g24), -1).mean(1) - 20) / 3).astype(int)
    assert (shown == (np.arange(48) * FPS) // 24).all(), shown


@pytest.fixture(scope="module")
def heldout_run(tiny_checkpoint, tmp_path_factory):
    """`salsav eval --world heldout` on the tiny random pipeline: (JSON, printed text)."""
    import contextlib
    import io
    import json
    from salsav_core.eval import main
    out = tmp_path_factory.mktemp("heldout") / "eval.json"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["--checkpoint", str(tiny_checkpoint), "--out", str(out), "--world", "heldout",
                   "--clips", "3", "--duration", "2.0", "--control-steps", "1",
                   "--chance-shifts", "3"])
    assert rc == 0
    return json.loads(out.read_text()), buf.getvalue()


@pytest.mark.slow
def test_eval_world_heldout_section(heldout_run):
    ev, text = heldout_run
    assert "steps" not in ev and "controls" not in ev            # the held-out world only
    h = ev["heldout"]
    scenes = [make_scene(s, 2.0) for s in h["meta"]["seeds"]]
    assert h["meta"]["seeds"] == [0, 1, 2] and h["meta"]["config"]["steps"] == 1
    merged = [len(metrics.merge_events([e.time for e in s.events], 0.05)) for s in scenes]
    assert h["model"]["events"] == sum(merged) and h["model"]["clips"] == 3
    # the mismatched control scores the same audio (same onsets) against the next scene's impacts
    assert h["mismatched"]["onsets"] == h["model"]["onsets"]
    assert h["mismatched"]["events"] == sum(merged[1:] + merged[:1])
    assert h["true_audio"]["sync_recall_50ms"] > 0.8                  # the detector's ceiling
    for row in ("model", "mismatched"):
        lo, hi = h[row]["ci95"]["sync_recall_50ms"]
        assert lo <= h[row]["sync_recall_50ms"] <= hi
    assert "1 steps vs mismatched" in h["paired"]
    # SWSD references: this world's own sound (wrong timing) sits far closer than SynthFoley's
    refs = h["swsd_references"]
    assert 0 < refs["next scene's sound"] < refs["training world's sound"]
    assert "references: next scene's sound" in text
    # the scenes' own sound: sparse impacts over a faint noise floor, far below the peaks
    assert -70 < h["true_audio"]["background_db"] < -25 and h["model"]["background_db"] <= 0
    assert "background, median frame below the loudest (dB): model" in text
    assert "Held-out world (3 x 2.0 s scenes, 1 steps" in text and "control: mismatched" in text


def test_eval_world_bad_args(tiny_checkpoint, capsys):
    from salsav_core.eval import main
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(tiny_checkpoint), "--world", "mars"])
    rc = main(["--checkpoint", str(tiny_checkpoint), "--world", "heldout", "--clips", "2",
               "--heldout-clips", "1"])
    assert rc == 2 and "at least 2 clips" in capsys.readouterr().err


@pytest.mark.slow
def test_eval_world_both_reports_the_two_side_by_side(tiny_checkpoint, tmp_path, capsys):
    import json
    from salsav_core.eval import main
    out = tmp_path / "both.json"
    rc = main(["--checkpoint", str(tiny_checkpoint), "--out", str(out), "--world", "both",
               "--clips", "2", "--heldout-clips", "2", "--steps", "1", "--control-steps", "1",
               "--duration", "1.5", "--chance-shifts", "2",
               "--skip", "controls,reference,conditioning,long"])
    assert rc == 0
    ev = json.loads(out.read_text())
    assert ev["steps"]["1"]["clips"] == 2 and ev["heldout"]["model"]["clips"] == 2
    assert ev["meta"]["wall_seconds"] >= ev["heldout"]["meta"]["wall_seconds"] > 0
    text = capsys.readouterr().out
    assert text.index("model, 1 steps") < text.index("Held-out world (2 x 1.5 s scenes")
