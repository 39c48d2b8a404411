"""End to end through gradio_client: a made-up video in, a video with sound out; bad input
gets a readable error and the server keeps serving."""
import json
import re

import httpx
import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from webapp_helpers import decode_audio, probe_streams

pytestmark = pytest.mark.slow


def _args(video, **kw):
    a = dict(video=handle_file(video), prompt="a ball bouncing", negative_prompt="", steps=2, guidance=4.0,
             seed=3, random_seed=False, reference_audio=None, reference_start=0.0, trim=False, start=0.0, end=0.0)
    a.update(kw)
    return a


@pytest.fixture(scope="module")
def client(server):
    return Client(server, verbose=False)


def test_webapp_api_generate_end_to_end(client, clip):
    video, audio, image, timings, seed = client.predict(**_args(clip), api_name="/generate")
    n_v, n_a, dur = probe_streams(video)
    assert (n_v, n_a) == (1, 1)
    assert abs(dur - 2.0) < 0.1, dur
    wave = decode_audio(audio)
    assert abs(len(wave) / 44100 - 2.0) < 0.05 and float(abs(wave).max()) > 1e-3
    from PIL import Image
    assert Image.open(image).size[0] >= 400
    assert timings.startswith("2 steps · ") and "real time" in timings
    assert seed == 3


def test_webapp_api_only_the_video_is_required(client, clip):
    """As gradio_client users call it: every parameter but the video has its default (the
    page's: 8 steps, guidance 4, a random seed)."""
    video, audio, _, timings, seed = client.predict(handle_file(clip), api_name="/generate")
    assert probe_streams(video)[:2] == (1, 1) and abs(len(decode_audio(audio)) / 44100 - 2.0) < 0.05
    assert timings.startswith("8 steps · ") and 0 <= int(seed) < 2**32
    params = {p["parameter_name"]: p for p in client.view_api(print_info=False, return_format="dict")
              ["named_endpoints"]["/generate"]["parameters"]}
    assert [k for k, p in params.items() if not p["parameter_has_default"]] == ["video"]
    assert params["prompt"]["parameter_default"] == "" and params["reference_audio"]["parameter_default"] is None


def test_webapp_api_same_seed_same_audio_and_reference(client, clip, bad_files):
    a = decode_audio(client.predict(**_args(clip, steps=1), api_name="/generate")[1])
    b = decode_audio(client.predict(**_args(clip, steps=1), api_name="/generate")[1])
    assert len(a) == len(b) and float(abs(a - b).max()) < 1e-3
    out = client.predict(**_args(clip, steps=1, reference_audio=handle_file(bad_files["ref_short"]),
                                 reference_start=0.5, trim=True, start=0.5, end=0.0), api_name="/generate")
    assert abs(probe_streams(out[0])[2] - 1.5) < 0.1                   # trimmed to 0.5 .. 2.0 s


@pytest.mark.parametrize("bad, message", [
    (dict(steps=3), "Steps must be a power of two"),
    (dict(steps=0), "Steps must be a power of two"),
    (dict(steps=10**6), "Steps must be a power of two"),
    (dict(guidance=-1), "less than minimum|Guidance must be"),
    (dict(video="text"), "not a readable video"),
    (dict(video="corrupt"), "not a readable video"),
    (dict(video="no_frames"), "not a readable video|no frames"),
    (dict(video="long"), "at most 2.5 s is generated"),
    (dict(reference_audio="ref_long"), "longer than the clip"),
    (dict(reference_audio="ref_short", reference_start=5.0), "beyond the end"),
])
def test_webapp_api_bad_input_then_serves(client, clip, bad_files, bad, message):
    kw = dict(bad)
    if "video" in kw:
        kw["video"] = bad_files[kw["video"]]
    if "reference_audio" in kw:
        kw["reference_audio"] = handle_file(bad_files[kw["reference_audio"]])
    video = kw.pop("video", clip)
    with pytest.raises(AppError) as e:
        client.predict(**_args(video, **kw), api_name="/generate")
    msg = str(e.value)
    assert re.search(message, msg), msg
    assert "Traceback" not in msg and 'File "' not in msg
    out = client.predict(**_args(clip, steps=1), api_name="/generate")      # still serving
    assert probe_streams(out[0])[:2] == (1, 1)


def test_webapp_api_nan_guidance_over_raw_http(server, client, clip):
    """gradio_client cannot send NaN (JSON), but a hand-made request can: the server refuses it."""
    uploaded = client.predict(**_args(clip, steps=1), api_name="/generate")[0]   # any served file path
    body = json.dumps({"data": [{"path": uploaded, "meta": {"_type": "gradio.FileData"}}, "", "", 1, 4.0, 0,
                                True, None, 0.0, False, 0.0, 0.0]}).replace("4.0, 0, true", "NaN, 0, true")
    assert "NaN" in body
    r = httpx.post(server + "gradio_api/call/generate", content=body,
                   headers={"content-type": "application/json"}, timeout=60)
    if r.status_code == 200:
        event_id = r.json()["event_id"]
        with httpx.stream("GET", server + f"gradio_api/call/generate/{event_id}", timeout=60) as s:
            text = "".join(s.iter_text())
        assert "event: error" in text and "Guidance must be a finite number" in text, text
    else:
        assert r.status_code in (400, 422)
    assert probe_streams(client.predict(**_args(clip, steps=1), api_name="/generate")[0])[:2] == (1, 1)


def test_webapp_api_compare_steps(client, clip, settings):
    out = client.predict(handle_file(clip), "", "", 4.0, 11, False, False, 0.0, 0.0, api_name="/compare_steps")
    n = len(settings.compare_steps)
    assert len(out) == 3 * n + 1
    waves = [decode_audio(out[3 * k + 1]) for k in range(n)]
    assert all(abs(len(w) / 44100 - 2.0) < 0.05 for w in waves)
    for k, steps in enumerate(settings.compare_steps):
        assert out[3 * k + 2].startswith(f"**{steps} step")
    assert "Seed 11" in out[-1]
    assert float(abs(waves[0] - waves[-1]).max()) > 1e-4                # 1 step and 32 steps differ


def test_webapp_requests_wait_for_a_background_warmup(client, clip, pipeline, settings):
    """app.py warms up in a thread while the server answers: a request sent meanwhile waits for
    it (nothing compiles twice), then gets the same audio as any other request."""
    from webapp import ui
    before = client.predict(**_args(clip), api_name="/generate")
    t = ui.warmup_in_background(pipeline, settings)
    assert not ui.WARM.is_set()
    during = client.predict(**_args(clip), api_name="/generate")
    assert ui.WARM.is_set() and not t.is_alive()
    np.testing.assert_array_equal(decode_audio(during[1]), decode_audio(before[1]))
