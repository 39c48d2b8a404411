"""Shared fixtures for the study tests: tiny stimuli (mp4 + WAV) and manifests in tmp."""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml

SYSTEMS = ["SystemAlphaSecret", "SystemBetaSecret", "SystemGammaSecret"]
SR = 44100


def make_video(path: Path, duration: float, size: int = 64) -> None:
    import imageio_ffmpeg
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-y", "-loglevel", "error", "-f", "lavfi", "-i",
                    f"testsrc=size={size}x{size}:rate=24:duration={duration}",
                    "-c:v", "libx264", "-pix_fmt", "yuv420p", "-preset", "ultrafast", str(path)],
                   check=True)


def make_wav(path: Path, duration: float, freq: float) -> None:
    t = np.arange(int(round(duration * SR))) / SR
    wave = 0.2 * np.sin(2 * np.pi * freq * t) * (0.5 + 0.5 * (np.sin(2 * np.pi * 2 * t) > 0))
    soundfile.write(str(path), wave.astype(np.float32), SR)


def write_study(root: Path, n_clips: int = 3, trials: int = 2, duration: float = 2.0,
                name: str = "teststudy", checks: list | None = None, checks_per: int = 0,
                systems=SYSTEMS, extra: dict | None = None) -> Path:
    """A study folder with n_clips videos, one WAV per clip x system, and manifest.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    clips = []
    for i in range(n_clips):
        video = root / f"clip{i}_originalvideo.mp4"
        if not video.exists():
            make_video(video, duration)
        tracks = {}
        for j, s in enumerate(systems):
            wav = root / f"{s}_clip{i}_trackfile.wav"
            if not wav.exists():
                make_wav(wav, duration, 220.0 * (j + 1) + 10 * i)
            tracks[s] = wav.name
        clips.append({"name": f"clip{i}", "video": video.name, "tracks": tracks})
    m = {"name": name, "title": "Test study", "systems": list(systems), "clips": clips,
         "trials_per_participant": trials}
    if checks:
        m["attention_checks"] = {"per_participant": checks_per, "items": checks}
    m.update(extra or {})
    path = root / "manifest.yaml"
    path.write_text(yaml.safe_dump(m))
    return path


@pytest.fixture(scope="session")
def stimuli_dir(tmp_path_factory) -> Path:
    """A folder with 6 clips x 3 systems of 2 s media (made once per session)."""
    root = tmp_path_factory.mktemp("stimuli")
    write_study(root, n_clips=6)
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServerThread:
    """uvicorn serving an app on 127.0.0.1 in a thread; stop() shuts it down."""

    def __init__(self, app):
        import uvicorn
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        t0 = time.time()
        while not self.server.started:
            if time.time() - t0 > 20:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self):
        self.server.should_exit = True
        self.thread.join(10)


def serve_study(root: Path, name: str, n_clips: int, min_listen_s: float, trials: int = 2,
                duration: float = 1.0):
    """A study written under `root`, loaded into its own SQLite file and served in a thread:
    (server, engine, study id, settings)."""
    from study import db, web
    from study.manifest import load_manifest
    from study.settings import StudySettings
    manifest = write_study(root, n_clips=n_clips, trials=trials, duration=duration, name=name,
                           extra={"min_listen_s": min_listen_s})
    url = f"sqlite:///{root / (name + '.db')}"
    engine = db.make_engine(url)
    sid = load_manifest(engine, manifest)
    settings = StudySettings(db_url=url, admin_password="pw")
    return ServerThread(web.create_app(settings, engine=engine)), engine, sid, settings


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server for the session (Debian's `postgresql` package, see postgres.py).

    Skips when the server binaries are absent, unless SALSAV_REQUIRE_POSTGRES=1 (CI), where it fails.
    """
    from tests.study.postgres import PostgresServer, find_bin_dir
    if find_bin_dir() is None:
        msg = "PostgreSQL server binaries (initdb, pg_ctl) not found; apt-get install postgresql"
        if os.environ.get("SALSAV_REQUIRE_POSTGRES") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    srv = PostgresServer.start()
    yield srv
    srv.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty study database: once a SQLite file, once a database on `pg_server`."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'study.db'}"
        return
    srv = request.getfixturevalue("pg_server")
    name = f"t_{uuid.uuid4().hex[:12]}"
    url = srv.create_database(name)
    yield url
    srv.drop_database(name)
