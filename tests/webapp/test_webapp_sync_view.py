"""The sync view: the motion curve follows the picture, the onsets are the detector's, the
figure is drawn for a real result; in the browser it appears after a generation."""
import os
from pathlib import Path

import numpy as np
import pytest

from salsav_core import metrics
from webapp.media import make_test_video, write_wav_int16
from webapp.sync_view import motion_curve, render_sync_view, sync_view_for, sync_view_or_none

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _clicks(times, seconds=3.0, sr=44100):
    wave = np.zeros(int(seconds * sr), np.float32)
    for t in times:
        n0 = int(t * sr)
        k = np.arange(int(0.05 * sr))
        wave[n0:n0 + len(k)] += 0.5 * np.sin(2 * np.pi * 900 * k / sr) * np.exp(-k / 400)
    return wave


def test_sync_view_motion_curve_follows_the_picture():
    frames = np.zeros((48, 32, 32, 3), np.uint8)
    for t in range(48):                     # a small square moves only in frames 10-19
        x = 4 + min(max(t - 10, 0), 10) * 2
        frames[t, 12:16, x:x + 4] = 255
    m = motion_curve(frames)
    assert m.shape == (48,) and m.max() == pytest.approx(1.0) and m[0] == 0
    assert (m[11:21] > 0.5).all() and (m[:11] == 0).all() and (m[21:] == 0).all()
    assert motion_curve(frames[:1]).tolist() == [0.0]


def test_sync_view_image_and_onsets():
    wave = _clicks([0.5, 1.25, 2.2])
    assert np.allclose(metrics.detect_onsets(wave, 44100), [0.5, 1.25, 2.2], atol=0.01)
    frames = np.random.default_rng(0).integers(0, 255, (72, 24, 24, 3)).astype(np.uint8)
    img = render_sync_view(frames, 24, wave, 44100, size=(6.0, 3.0), dpi=80)
    assert img.shape == (240, 480, 3) and img.dtype == np.uint8
    assert img.std() > 20                   # drawn, not blank
    silent = render_sync_view(frames, 24, np.zeros(3 * 44100, np.float32), 44100, size=(6.0, 3.0), dpi=80)
    assert silent.shape == img.shape and np.abs(silent.astype(int) - img).mean() > 1


def test_sync_view_for_files(tmp_path):
    video = make_test_video(str(tmp_path / "v.mp4"), 2.0, seed=3)
    audio = write_wav_int16(str(tmp_path / "a.wav"), _clicks([0.4, 1.1], 2.0), 44100)
    img = sync_view_for(video, audio)
    assert img.ndim == 3 and img.shape[2] == 3 and img.shape[1] > 600
    assert sync_view_or_none(video, str(tmp_path / "missing.wav")) is None
    assert sync_view_or_none(None, audio) is None


@pytest.mark.browser
@pytest.mark.slow
def test_webapp_browser_sync_view(server, clip):
    """Upload, generate; the sync view image appears under the spectrogram."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1100})
            page.goto(server, wait_until="networkidle")
            assert page.locator("#sync-view img").count() == 0          # empty before a run
            page.locator("#video-in input[type=file]").set_input_files(clip)
            page.wait_for_selector("#video-in video", timeout=30_000)
            page.locator("#generate-btn").click()
            page.wait_for_selector("#sync-view img", timeout=180_000)
            page.wait_for_function(
                "() => { const i = document.querySelector('#sync-view img');"
                " return i && i.complete && i.naturalWidth > 600; }", timeout=30_000)
            size = page.eval_on_selector("#sync-view img", "i => [i.naturalWidth, i.naturalHeight]")
            assert size[0] > 600 and size[1] > 250
            page.locator("#sync-view").scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "webapp-sync-view.png"), full_page=True)
        finally:
            browser.close()
