"""Prepare a manifest's media for a blind study: videos without audio, tracks in one format.

Every file is written under a random name into one folder; the database keeps the served
copy and the source path. `prepare_media(m, out_dir)` takes a parsed `manifest.Manifest`.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable

from . import media


@dataclasses.dataclass
class Prepared:
    videos: dict[str, tuple[Path, float]] = dataclasses.field(default_factory=dict)      # clip -> (mp4, s)
    tracks: dict[tuple[str, str], tuple[Path, dict]] = dataclasses.field(default_factory=dict)  # (clip, system)
    checks: dict[int, tuple[Path, dict]] = dataclasses.field(default_factory=dict)        # check index
    warnings: list[str] = dataclasses.field(default_factory=list)   # trimmed / padded / silent tracks
    problems: list[str] = dataclasses.field(default_factory=list)   # files that cannot be used


def _catching(fn):
    """fn, returning a MediaError instead of raising it (so one bad file does not hide the others)."""
    def call(arg):
        try:
            return fn(arg)
        except media.MediaError as e:
            return e
    return call


def _name(out_dir: Path, ext: str) -> Path:
    return out_dir / f"{secrets.token_hex(12)}{ext}"


def prepare_media(m, out_dir: str | Path, log: Callable[[str], None] | None = None) -> Prepared:
    """Re-encode each clip's video once without audio and normalise every track to `m.media`
    and its video's duration; then render the attention-check tracks from the normalised ones."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    res = Prepared()
    log = log or (lambda _msg: None)
    workers = max(1, min(4, os.cpu_count() or 1))  # ffmpeg runs in subprocesses, numpy without the GIL

    def video(src: Path):
        dst = _name(out_dir, ".mp4")
        return dst, media.normalise_video(src, dst)

    def track(job):
        clip, system, src, duration = job
        dst = _name(out_dir, ".wav")
        return clip, system, dst, media.normalise_track(src, dst, duration, m.media)

    with ThreadPoolExecutor(workers) as pool:
        sources = list(dict.fromkeys(c.video for c in m.clips))        # each video re-encoded once
        done = dict(zip(sources, pool.map(_catching(video), sources)))
        jobs = []
        for c in m.clips:
            out = done[c.video]
            if isinstance(out, media.MediaError):
                res.problems.append(f"clip {c.name!r}: {out}")
                continue
            res.videos[c.name] = out
            jobs += [(c.name, system, src, out[1]) for system, src in c.tracks.items()]
        for job, out in zip(jobs, pool.map(_catching(track), jobs)):
            clip, system = job[0], job[1]
            if isinstance(out, media.MediaError):
                res.problems.append(f"clip {clip!r}, system {system!r}: {out}")
                continue
            res.tracks[(clip, system)] = (out[2], out[3])
            res.warnings += [f"clip {clip!r}, system {system!r}: {w}" for w in out[3]["warnings"]]
    log(f"prepared {len(res.videos)} clips, {len(res.tracks)} tracks")
    for i, ch in enumerate(m.checks):
        if ch.clip not in res.videos:
            continue
        dst = _name(out_dir, ".wav")
        try:
            if ch.kind == "anchor":
                info = media.normalise_track(ch.audio, dst, res.videos[ch.clip][1], m.media)
                res.warnings += [f"anchor of clip {ch.clip!r}: {w}" for w in info["warnings"]]
            elif (ch.clip, ch.replaces) in res.tracks:
                info = media.shift_track(res.tracks[(ch.clip, ch.replaces)][0], dst, ch.offset, m.media)
            else:
                continue
        except media.MediaError as e:
            res.problems.append(f"attention check #{i}: {e}")
            continue
        res.checks[i] = (dst, info)
    return res


def duration_warnings(p: Prepared) -> list[str]:
    return [w for w in p.warnings if "but the video" in w]
