"""Prepare a manifest's media for a blind study: videos without audio, tracks in one format.

Every file is written under a random name into one folder; the database keeps the served
copy and the source path. `prepare_media(m, out_dir)` takes a parsed `manifest.Manifest`.
"""

from __future__ import annotations

import dataclasses
import secrets
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


def _name(out_dir: Path, ext: str) -> Path:
    return out_dir / f"{secrets.token_hex(12)}{ext}"


def prepare_media(m, out_dir: str | Path, log: Callable[[str], None] | None = None) -> Prepared:
    """Re-encode each clip's video once without audio and normalise every track to `m.media`
    and its video's duration; then render the attention-check tracks from the normalised ones."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    res, by_source = Prepared(), {}
    log = log or (lambda _msg: None)
    for c in m.clips:
        try:
            if c.video not in by_source:
                dst = _name(out_dir, ".mp4")
                by_source[c.video] = (dst, media.normalise_video(c.video, dst))
            res.videos[c.name] = by_source[c.video]
        except media.MediaError as e:
            res.problems.append(f"clip {c.name!r}: {e}")
            continue
        duration = res.videos[c.name][1]
        for system, src in c.tracks.items():
            dst = _name(out_dir, ".wav")
            try:
                info = media.normalise_track(src, dst, duration, m.media)
            except media.MediaError as e:
                res.problems.append(f"clip {c.name!r}, system {system!r}: {e}")
                continue
            res.tracks[(c.name, system)] = (dst, info)
            res.warnings += [f"clip {c.name!r}, system {system!r}: {w}" for w in info["warnings"]]
        log(f"prepared clip {c.name}")
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
