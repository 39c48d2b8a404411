"""The page in headless Chromium: upload, move both sliders, generate, play the result;
bad input shows a readable error and the next request works. Screenshots go to artifacts/."""
import os
from pathlib import Path

import numpy as np
import pytest

from webapp_helpers import decode_audio

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--autoplay-policy=no-user-gesture-required"]


@pytest.fixture(scope="module")
def page(server):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 900})
        pg.goto(server, wait_until="networkidle")
        yield pg
        browser.close()


def _upload(page, path):
    clear = page.locator("#video-in button[aria-label='Clear']")
    if clear.count():
        clear.click()
    page.locator("#video-in input[type=file]").set_input_files(path)


def _wait_output(page, previous_src=None, timeout=120_000):
    page.wait_for_function(
        """prev => { const v = document.querySelector('#video-out video');
                     return v && v.src && v.src !== prev; }""", arg=previous_src, timeout=timeout)
    return page.eval_on_selector("#video-out video", "v => v.src")


def _duration(page):
    return page.eval_on_selector(
        "#video-out video",
        """v => new Promise(r => v.readyState >= 1 ? r(v.duration)
                                  : v.addEventListener('loadedmetadata', () => r(v.duration)))""")


def _play(page):
    """Play the output for 1 s: (media error code or None, position, audio bytes decoded)."""
    return page.eval_on_selector(
        "#video-out video",
        """v => new Promise(r => v.play().then(() => setTimeout(() => { v.pause();
                 r([v.error && v.error.code, v.currentTime, v.webkitAudioDecodedByteCount]); }, 1000))
               .catch(() => r([v.error ? v.error.code : -1, v.currentTime, 0])))""")


def test_webapp_browser_generate(page, clip, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    _upload(page, clip)
    page.wait_for_selector("#video-in video", timeout=30_000)
    page.locator("#steps-slider input[type=range]").fill("2")        # exponent 2 → 4 steps
    page.locator("#guidance-slider input[type=range]").fill("6")
    page.wait_for_function("() => document.querySelector('#steps-value input').value === '4'", timeout=10_000)
    page.locator("#generate-btn").click()
    src = _wait_output(page)
    assert abs(_duration(page) - 2.0) < 0.1
    error, position, audio_bytes = _play(page)       # the browser decodes the mp4's FLAC sound
    assert error is None and position > 0.3 and audio_bytes > 0
    page.wait_for_function("() => document.querySelector('#timings').innerText.includes('real time')",
                           timeout=30_000)
    assert page.locator("#timings").inner_text().startswith("4 steps")
    body = page.request.get(src).body()
    (tmp_path / "out.mp4").write_bytes(body)
    wave = decode_audio(str(tmp_path / "out.mp4"))
    assert abs(len(wave) / 44100 - 2.0) < 0.1
    assert float(np.sqrt(np.mean(wave ** 2))) > 1e-3                 # not silent
    page.wait_for_selector("#spectrogram img", timeout=30_000)
    page.screenshot(path=str(ARTIFACTS / "webapp-generate.png"), full_page=True)


@pytest.mark.parametrize("bad, message", [("text", "not a readable video"),
                                          ("corrupt", "not a readable video"),
                                          ("long", "at most 2.5 s is generated")])
def test_webapp_browser_bad_video_then_good(page, clip, bad_files, bad, message):
    _upload(page, bad_files[bad])
    page.wait_for_timeout(500)
    page.locator("#generate-btn").click()
    page.get_by_text(message).first.wait_for(timeout=30_000)
    if bad == "text":
        page.screenshot(path=str(ARTIFACTS / "webapp-error.png"), full_page=False)
    assert page.get_by_text("Traceback").count() == 0
    before = page.eval_on_selector("#video-out video", "v => v.src") if page.locator("#video-out video").count() else None
    _upload(page, clip)
    page.wait_for_selector("#video-in video", timeout=30_000)
    page.locator("#generate-btn").click()
    _wait_output(page, before)
    assert abs(_duration(page) - 2.0) < 0.1


def test_webapp_browser_compare_steps(page, clip, settings):
    _upload(page, clip)
    page.wait_for_selector("#video-in video", timeout=30_000)
    page.get_by_role("tab", name="Compare steps").click()
    page.locator("#compare-btn").click()
    n = len(settings.compare_steps)
    page.wait_for_function(f"() => document.querySelectorAll('.compare-col img').length === {n}",
                           timeout=120_000)
    page.wait_for_function("() => document.querySelector('#compare-summary').innerText.includes('Seed')",
                           timeout=30_000)
    text = page.locator("#compare-summary").inner_text()
    assert all(f"{s} step" in text for s in settings.compare_steps)
    page.screenshot(path=str(ARTIFACTS / "webapp-compare.png"), full_page=True)
