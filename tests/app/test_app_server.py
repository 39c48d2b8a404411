"""`python app.py`: one process serves the demo at /, the study at /study and the admin at /admin."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from salsav_core.pipeline import Pipeline
    d = tmp_path_factory.mktemp("app")
    Pipeline.random_init("test", "tiny", seed=1).save_pretrained(d / "ckpt")
    port = _free_port()
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "SALSAV_ADMIN_PASSWORD": "pw-for-tests",
           "SALSAV_DERIVED_DIR": str(d / "derived"), "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(d / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--checkpoint",
                             str(d / "ckpt"), "--db", f"sqlite:///{d / 'app.db'}", "--no-warmup",
                             "--demo-settings", "test"], cwd=ROOT, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 600          # start-up on a busy shared machine can take minutes
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("app.py exited:\n" + (d / "server.log").read_text()[-3000:])
        try:
            if requests.get(url + "/study", timeout=2).status_code < 500:
                break
        except (requests.ConnectionError, requests.Timeout):   # not up yet, or busy starting
            time.sleep(1)
    else:
        proc.kill()
        raise RuntimeError("app.py did not start:\n" + (d / "server.log").read_text()[-3000:])
    yield url, d
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.slow
def test_one_process_serves_demo_study_admin(server):
    url, d = server
    home = requests.get(url + "/", timeout=30)
    assert home.status_code == 200 and "gradio" in home.text.lower()
    study = requests.get(url + "/study", timeout=30)
    assert study.status_code == 200
    # the bundled demo study was loaded into the empty database; its system names stay hidden
    for secret in ("salsav-1step", "salsav-8step", "salsav-32step", "tracks/"):
        assert secret not in study.text
    assert requests.get(url + "/admin", timeout=30).status_code == 401
    admin = requests.get(url + "/admin", auth=("admin", "pw-for-tests"), timeout=30)
    assert admin.status_code == 200 and "demo-steps" in admin.text


@pytest.mark.slow
def test_demo_api_through_the_combined_app(server, tmp_path):
    from gradio_client import Client, handle_file

    from webapp.media import make_test_video
    url, _ = server
    video = make_test_video(str(tmp_path / "v.mp4"), 1.5)
    client = Client(url + "/", verbose=False)
    out_video, wav, spec, timings, seed = client.predict(
        handle_file(video), "", "", 2, 4.0, 7, False, None, 0.0, False, 0.0, 0.0, api_name="/generate")
    assert os.path.exists(out_video) and "2 steps" in timings and int(seed) == 7
    from salsav_core import video_io
    info = video_io.probe(out_video)
    assert info.has_audio and abs(info.duration - 1.5) < 0.1
