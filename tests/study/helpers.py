"""Helpers for the study tests: what the player does for a trial, on an injected server clock."""

from __future__ import annotations

import datetime as dt

from study import db, listening, service


def listen_through(engine, token: str, extra: float = 0.05) -> None:
    """Fetch the current trial's video and tracks and report each track played for the study's
    minimum (plus `extra` s), with the server clock advanced by hand instead of waiting."""
    with db.write_session(engine) as s:
        t = service.next_trial(s, token)
        if t is None:
            return
        p = service.get_participant(s, token)
        need = service.min_listen(s.get(db.Study, p.study_id), t.clip) + extra
        listening.media_fetch(s, t.video_token)
        for it in t.items:
            listening.media_fetch(s, it.media_token)
        now = max(db.utcnow(), t.last_beat_at or db.utcnow())
        for it in t.items:
            listening.report(s, token, t.id, "play", it.label, 0.0, now=now)
            left = need
            while left > 0:
                step = min(left, listening.MAX_BEAT_S)
                now += dt.timedelta(seconds=step)
                listening.report(s, token, t.id, "beat", it.label, step, now=now)
                left -= step


def mark_listened(engine, token: str) -> None:
    """Record, in one statement per table, what the server logs when the current trial's media
    are fetched and each track played for the minimum (for tests about something else; the
    listening rules themselves are tested through `listening` in test_study_listening.py)."""
    with db.write_session(engine) as s:
        t = service.next_trial(s, token)
        p = service.get_participant(s, token)
        need = service.min_listen(s.get(db.Study, p.study_id), t.clip)
        now = db.utcnow()
        for it in t.items:
            it.fetched_at, it.listened_s, it.plays = now, need, 1
        s.add(db.ListenEvent(trial_id=t.id, label=None, kind="fetch", at=now))


def rate_all(engine, token: str, rng, axes=("overall", "sync", "quality")) -> dict:
    """Listen through the current trial and complete it with random scores; returns them."""
    listen_through(engine, token)
    with db.write_session(engine) as s:
        t = service.next_trial(s, token)
        ratings = {it.label: {a: rng.randint(1, 5) for a in axes} for it in t.items}
        service.submit_ratings(s, token, t.id, ratings)
        return {"trial_id": t.id, "ratings": ratings}


# --------------------------------------------------------------------------- media of any format

def make_audio(path, duration: float, freq: float, sr: int = 44100, channels: int = 1, gain_db: float = 0.0,
               video: bool = False) -> None:
    """A tone burst in any container, by extension (m4a, flac, wav, mp3, ogg, webm, mkv, mp4); with
    `video` a small test picture stream is muxed in too (as V2A systems write their outputs)."""
    import subprocess

    import imageio_ffmpeg
    codec = {".m4a": "aac", ".mp4": "aac", ".flac": "flac", ".wav": "pcm_s16le", ".mp3": "libmp3lame",
             ".ogg": "libvorbis", ".webm": "libopus", ".mkv": "libopus"}[str(path)[str(path).rfind("."):]]
    src = (f"sine=frequency={freq}:sample_rate={sr}:duration={duration},"
           f"volume={gain_db}dB,tremolo=f=2:d=0.8")
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-y", "-v", "error", "-f", "lavfi", "-i", src]
    if video:
        cmd += ["-f", "lavfi", "-i", f"testsrc=size=32x32:rate=12:duration={duration}", "-c:v",
                "libvpx" if str(path).endswith((".webm", ".mkv")) else "libx264", "-pix_fmt", "yuv420p"]
    out_sr = 48000 if codec == "libopus" else sr
    cmd += ["-ac", str(channels), "-ar", str(out_sr), "-c:a", codec, "-shortest", str(path)]
    subprocess.run(cmd, check=True)


# --------------------------------------------------------------------------- a participant over HTTP

class HttpParticipant:
    """A scripted participant over real HTTP: the requests a browser makes for consent,
    instructions and each trial (pages, static files, state, media, play reports, scores).
    Every response is kept in `responses` as (method, path, status, headers, body)."""

    def __init__(self, base: str, pid: str | None = None):
        import httpx
        self.c = httpx.Client(base_url=base, timeout=60, follow_redirects=False)
        self.pid, self.token, self.responses = pid, None, []

    def request(self, method: str, url: str, **kw):
        r = self.c.request(method, url, **kw)
        self.responses.append((method, url, r.status_code, dict(r.headers), r.content))
        return r

    def _page_and_assets(self, url: str) -> str:
        import re
        r = self.request("GET", url)
        for asset in re.findall(r'(?:src|href)="(/study/static/[^"]+)"', r.text):
            self.request("GET", asset)
        return r.text

    def join(self, query: str = "&STUDY_ID=S1&SESSION_ID=X1") -> str:
        import re
        r = self.request("GET", f"/study?PROLIFIC_PID={self.pid or ''}{query}")
        if r.status_code != 303:          # 303: this PROLIFIC_PID has joined before and resumes
            html = self._page_and_assets(f"/study?PROLIFIC_PID={self.pid or ''}{query}")
            sid = re.search(r'name="study_id" value="(\d+)"', html).group(1)
            r = self.request("POST", "/study/consent", data={"study_id": sid, "agree": "yes",
                                                              "PROLIFIC_PID": self.pid or "",
                                                              "STUDY_ID": "S1", "SESSION_ID": "X1"})
        assert r.status_code == 303, r.text
        self.token = r.headers["location"].rsplit("/", 1)[-1]
        self._page_and_assets(f"/study/p/{self.token}")
        assert self.request("POST", f"/study/p/{self.token}/instructions").status_code == 303
        self._page_and_assets(f"/study/p/{self.token}")
        return self.token

    def state(self) -> dict:
        r = self.request("GET", f"/study/api/{self.token}/state")
        assert r.status_code == 200, r.text
        return r.json()

    def fetch_media(self, trial: dict) -> None:
        self.request("GET", trial["video"], headers={"Range": "bytes=0-"})
        for t in trial["tracks"]:
            self.request("GET", t["url"])

    def report(self, trial: dict, kind: str, label: str, seconds: float):
        return self.request("POST", f"/study/api/{self.token}/trials/{trial['trial_id']}/listen",
                            json={"kind": kind, "label": label, "seconds": seconds})

    def listen(self, trial: dict, seconds: float) -> None:
        """Play each track for `seconds` of real time, reporting as the player does."""
        import time
        for t in trial["tracks"]:
            self.report(trial, "play", t["label"], 0.0)
            time.sleep(seconds)
            self.report(trial, "end", t["label"], seconds)

    def rate(self, trial: dict, ratings: dict, complete: bool = True):
        return self.request("POST", f"/study/api/{self.token}/trials/{trial['trial_id']}/ratings",
                            json={"ratings": ratings, "complete": complete})

    def close(self) -> None:
        self.c.close()


def make_compare_folders(root, n_clips: int = 3, duration: float = 2.0):
    """Outputs of three systems as V2A researchers get them: MMAudio as m4a (one clip as an mp4
    with video), FoleyCrafter as 16 kHz flac, ours as wav with one over-long track; videos
    with their original (ground-truth) sound. Returns (videos folder, {system: folder})."""
    from tests.study.conftest import make_video
    videos = root / "videos"
    folders = {s: root / "outputs" / s for s in ("mmaudio", "foleycrafter", "salsav")}
    for f in [videos, *folders.values()]:
        f.mkdir(parents=True, exist_ok=True)
    for i in range(n_clips):
        clip = f"scene_{i:02d}"
        make_audio(videos / f"{clip}.mp4", duration, 1000 + 50 * i, video=True)
        if i == 0:
            make_audio(folders["mmaudio"] / f"{clip}.mp4", duration, 300 + i, sr=44100, gain_db=3, video=True)
        else:
            make_audio(folders["mmaudio"] / f"{clip}.m4a", duration, 300 + i, sr=44100, channels=2, gain_db=3)
        make_audio(folders["foleycrafter"] / f"{clip}.flac", duration, 500 + i, sr=16000, gain_db=-20)
        make_audio(folders["salsav"] / f"{clip}.wav", duration + (1.5 if i == 1 else 0.0), 700 + i, sr=44100,
                   gain_db=-6)
    _ = make_video  # (videos come with sound here, as real ones do)
    return videos, folders
