"""`python -m study import`: a study from other systems' outputs, one folder per system.

    python -m study import --name v2a-compare --videos clips/ \\
        --system mmaudio=outputs/mmaudio --system foleycrafter=outputs/foleycrafter \\
        --system salsav=outputs/salsav --out studies/v2a-compare [--create --db sqlite:///study.db]

A clip is a video in `--videos` (its file name without extension is the clip's name); each
system folder holds one file per clip with the same name and any audio extension or
container (wav, flac, mp3, ogg, opus, m4a, aac, mp4, mkv, webm, mov). The manifest written
to `<out>/manifest.yaml` names every file by a path relative to it; `create` then
normalises them (study.media) and loads the study. No checkpoint is needed.
"""

from __future__ import annotations

import os
from pathlib import Path

VIDEO_EXTS = (".mp4", ".mov", ".webm", ".mkv", ".avi", ".m4v")
AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".mp4", ".mkv", ".webm",
              ".mov")


class FolderImportError(ValueError):
    """The folders do not make a study; `problems` lists every issue found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("cannot import:\n  - " + "\n  - ".join(self.problems))


def _by_stem(folder: Path, exts: tuple[str, ...], problems: list[str]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in exts and not p.name.startswith("."):
            if p.stem in out:
                problems.append(f"{folder}: two files for clip {p.stem!r} ({out[p.stem].name}, {p.name})")
            out[p.stem] = p
    return out


def parse_system_args(items: list[str]) -> dict[str, Path]:
    """["name=folder", ...] -> {name: folder}, in the order given."""
    out: dict[str, Path] = {}
    for it in items:
        name, sep, folder = it.partition("=")
        if not sep or not name or not folder:
            raise FolderImportError([f"--system needs NAME=FOLDER, got {it!r}"])
        if name in out:
            raise FolderImportError([f"system {name!r} given twice"])
        out[name] = Path(folder)
    return out


def import_systems(name: str, videos: str | os.PathLike, systems: dict[str, Path], out: str | os.PathLike,
                   skip_incomplete: bool = False, manifest_extra: dict | None = None) -> Path:
    """Write `<out>/manifest.yaml` for `systems` ({name: folder}) over the videos; returns its path.

    Every system needs a file for every clip; with `skip_incomplete` clips that lack one are
    left out instead (at least one clip must remain).
    """
    import yaml

    videos, out = Path(videos), Path(out)
    problems: list[str] = []
    if not videos.is_dir():
        raise FolderImportError([f"videos folder not found: {videos}"])
    if not systems:
        raise FolderImportError(["give at least one --system NAME=FOLDER"])
    clips = _by_stem(videos, VIDEO_EXTS, problems)
    if not clips:
        problems.append(f"no videos ({', '.join(VIDEO_EXTS)}) in {videos}")
    files: dict[str, dict[str, Path]] = {}
    for sysname, folder in systems.items():
        if not folder.is_dir():
            problems.append(f"system {sysname!r}: folder not found: {folder}")
            continue
        files[sysname] = _by_stem(folder, AUDIO_EXTS, problems)
    keep = []
    for clip in clips:
        missing = [s for s in files if clip not in files[s]]
        if missing and not skip_incomplete:
            problems.append(f"clip {clip!r} has no file in the folder of system(s) {missing}")
        elif not missing:
            keep.append(clip)
    if not keep and not problems:
        problems.append("no clip has a file from every system")
    if problems:
        raise FolderImportError(problems)
    out.mkdir(parents=True, exist_ok=True)
    base = out.resolve()

    def rel(p: Path) -> str:
        return os.path.relpath(p.resolve(), base)

    manifest = {
        "name": name, "systems": list(systems),
        "clips": [{"name": c, "video": rel(clips[c]), "tracks": {s: rel(files[s][c]) for s in systems}}
                  for c in keep],
        "trials_per_participant": min(10, len(keep)),
        **(manifest_extra or {}),
    }
    path = out / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path
