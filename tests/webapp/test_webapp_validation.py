"""The validation at the web -> core seam: the core checks every value against the demo's
stricter limits (`DemoSettings.limits()`), the demo adds the upload and trim checks; every
refusal is a readable message."""
import dataclasses
import math

import numpy as np
import pytest
import soundfile as sf

from salsav_core.request import (GenerationError, Limits, check_guidance, check_range,
                                 check_reference_fits, check_seed, check_steps, load_audio,
                                 probe_video)
from salsav_core.sampler import ALLOWED_STEPS
from webapp.media import make_test_video, write_wav_int16
from webapp.service import build_request, format_timings
from webapp.settings import STEP_CHOICES, DemoSettings, settings_preset
from webapp.validation import DemoInputError, check_trim, check_upload

S = settings_preset("test")
L = S.limits()


def test_webapp_limits_are_the_cores_made_stricter():
    assert STEP_CHOICES is ALLOWED_STEPS and L.steps == ALLOWED_STEPS
    core = Limits()
    assert (L.max_duration, L.max_reference, L.min_guidance, L.max_guidance) == (2.5, 5.0, 1.0, 10.0)
    assert L.max_duration < core.max_duration and L.max_guidance < core.max_guidance
    assert DemoSettings().limits().max_input_duration == 600.0
    with pytest.raises(ValueError, match="cannot loosen max_duration"):
        dataclasses.replace(S, max_video_seconds=core.max_duration + 1).limits()
    with pytest.raises(ValueError, match="cannot loosen steps"):
        core.stricter(steps=(1, 3))


@pytest.mark.parametrize("steps", [1, 2, 4, 8, 16, 32, 64, 8.0])
def test_webapp_steps_accepts_powers_of_two(steps):
    assert check_steps(steps, L) == int(steps)


@pytest.mark.parametrize("steps", [3, 0, 10**6, -8, 128, 8.5, float("nan"), float("inf"), None, "eight", True])
def test_webapp_steps_refuses_others(steps):
    with pytest.raises(GenerationError, match="Steps must be a power of two from 1 to 64"):
        check_steps(steps, L)


@pytest.mark.parametrize("g", [-1, 0.5, 10.01, float("nan"), float("inf"), -float("inf"), None, "x"])
def test_webapp_guidance_refuses_out_of_range(g):
    with pytest.raises(GenerationError, match="Guidance must be"):
        check_guidance(g, L)


def test_webapp_guidance_and_seed_accept_valid():
    assert check_guidance(1, L) == 1.0 and check_guidance(4.5, L) == 4.5 and check_guidance(10, L) == 10.0
    assert check_seed(123) == 123 and 0 <= check_seed(None) < 2**32
    for bad in (-1, 2**32, 1.5, float("nan")):
        with pytest.raises(GenerationError, match="Seed"):
            check_seed(bad)


def _range(trim, start, end, video_seconds):
    return check_range(*check_trim(trim, start, end), video_seconds, L)


def test_webapp_range_whole_and_trimmed():
    assert _range(False, 5, 6, 2.0) == (0.0, 2.0)
    assert _range(True, 0.5, 1.5, 2.0) == (0.5, 1.0)
    assert _range(True, 0.5, 0, 2.0) == (0.5, 1.5)          # 0 = to the end
    assert _range(True, 1.0, 99, 2.0) == (1.0, 1.0)         # end clipped to the video
    for args, msg in [((True, 2.5, 3, 2.0), "beyond the end"), ((True, -1, 1, 2.0), "negative"),
                      ((True, 1.5, 1.0, 2.0), "must come after"), ((False, 0, 0, 9.0), "at most 2.5 s"),
                      ((True, 1, 5, 9.0), "at most 2.5 s")]:
        with pytest.raises(GenerationError, match=msg):
            _range(*args)
    assert _range(True, 3.0, 5.0, 9.0) == (3.0, 2.0)         # a trimmed part of a long video is fine


def test_webapp_reference_must_fit_the_clip():
    assert check_reference_fits(0.5, 1.0, 2.0, L) == 1.0
    for args, msg in [((2.3, 0.0, 2.0), "longer than the clip"), ((0.5, 2.5, 2.0), "beyond the end"),
                      ((0.5, 1.8, 2.0), "runs past the end"), ((0.5, -0.1, 2.0), "negative"),
                      ((6.0, 0.0, 9.0), "at most 5 s"), ((0.0, 0.0, 2.0), "empty"),
                      ((0.5, float("nan"), 2.0), "finite")]:
        with pytest.raises(GenerationError, match=msg):
            check_reference_fits(*args, L)


def test_webapp_probe_real_and_bad_files(clip, bad_files):
    info = probe_video(clip, L)
    assert abs(info.duration - 2.0) < 0.05 and info.fps == 24.0 and (info.width, info.height) == (64, 64)
    assert info.n_frames == 48
    for key in ("text", "corrupt", "no_frames"):
        with pytest.raises(DemoInputError, match="not a readable video"):
            build_request(S, bad_files[key], "", "", 8, 4, 0, True, None, 0.0, False, 0, 0)
    with pytest.raises(DemoInputError, match="upload a video"):
        check_upload(None, S)
    with pytest.raises(DemoInputError, match="could not be found"):
        check_upload("/nonexistent/x.mp4", S)
    tiny = DemoSettings(max_file_bytes=100)
    with pytest.raises(DemoInputError, match="the limit is"):
        check_upload(clip, tiny)


def test_webapp_build_request_checks_everything(clip, bad_files):
    req = build_request(S, clip, "  a  ball ", None, 4, 3.5, 7, False, bad_files["ref_short"], 1.0, True, 0.5, 0)
    assert (req.prompt, req.negative_prompt, req.steps, req.guidance, req.seed) == ("a ball", "", 4, 3.5, 7)
    assert (req.start, req.reference.start) == (0.5, 1.0) and abs(req.duration - 1.5) < 0.05
    assert abs(req.reference.seconds - 0.5) < 1e-3 and req.reference.wave.dtype == np.float32
    assert req.info.duration == pytest.approx(2.0, abs=0.05) and req.trimmed
    assert 0 <= build_request(S, clip, "", "", 8, 4, 7, True, None, 0.0, False, 0, 0).seed < 2**32
    with pytest.raises(GenerationError, match="longer than the clip"):
        build_request(S, clip, "", "", 8, 4, 0, True, bad_files["ref_long"], 0.0, False, 0, 0)
    with pytest.raises(GenerationError, match="at most 2.5 s"):
        build_request(S, bad_files["long"], "", "", 8, 4, 0, True, None, 0.0, False, 0, 0)
    with pytest.raises(GenerationError, match="too long"):
        build_request(S, clip, "x" * (S.max_prompt_chars + 1), "", 8, 4, 0, True, None, 0.0, False, 0, 0)


def test_webapp_wav_is_int16_round_trip(tmp_path):
    wave = (0.5 * np.sin(np.linspace(0, 100, 4410))).astype(np.float32)
    p = write_wav_int16(str(tmp_path / "a.wav"), np.concatenate([wave, [3.0]]), 44100)
    assert sf.info(p).subtype == "PCM_16"
    back, sr = load_audio(p)
    assert sr == 44100 and back.shape == (4411,)
    np.testing.assert_allclose(back[:-1], wave, atol=2 / 32768)
    assert math.isclose(back[-1], 1.0, abs_tol=1e-4)                 # clipped, not wrapped


def test_webapp_format_timings():
    line = format_timings(8, dict(read=0.01, features=0.2, sampling=0.5, decode=0.1, mux=0.1, total=0.9), 10.0)
    assert line == "8 steps · 0.9 s for 10.0 s of audio (11× real time) · features 0.2 s · sampling 0.5 s · decode 0.1 s"
    assert format_timings(1, dict(total=4.0), 2.0).startswith("1 step · 4.0 s for 2.0 s of audio (0.5× real time)")


def test_webapp_make_test_video_has_requested_length(tmp_path):
    info = probe_video(make_test_video(str(tmp_path / "v.mp4"), 1.5, fps=24), L)
    assert abs(info.duration - 1.5) < 0.05 and info.n_frames == 36
