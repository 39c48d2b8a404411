"""Study manifest (YAML or JSON): parsing, validation against the media files, loading.

Paths are relative to the manifest's folder. See study/README.md for the format.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

DEFAULT_AXES = (
    ("overall", "Overall fit", "How well the given audio track semantically corresponds to the video."),
    ("sync", "Synchronization", "How precisely video events are synchronized to their corresponding sound."),
    ("quality", "Audio quality", "General quality of the audio, encompassing aspects such as artifacts and clarity."),
)
DEFAULT_SCALE_LABELS = {1: "Bad", 2: "Poor", 3: "Fair", 4: "Good", 5: "Excellent"}
DEFAULT_INSTRUCTIONS = (
    "In each trial you see one video and can switch between three soundtracks, A, B and C. "
    "Play every track (switch with the buttons or the keys 1, 2, 3; space plays and pauses) "
    "and rate each on a 5-point scale for overall fit, synchronization and audio quality. "
    "Please wear headphones in a quiet room.")
DEFAULT_CONSENT = (
    "This is a listening study on generated sound for video. It takes about 15 minutes. "
    "Your ratings are stored with an anonymous identifier and used for research only. "
    "You may stop at any time.")


class ManifestError(ValueError):
    """The manifest or its media files are invalid; `problems` lists every issue found."""

    def __init__(self, problems: list[str]):
        self.problems = list(problems)
        super().__init__("invalid study manifest:\n  - " + "\n  - ".join(self.problems))


@dataclasses.dataclass(frozen=True)
class Axis:
    key: str
    name: str
    question: str


@dataclasses.dataclass(frozen=True)
class ClipSpec:
    name: str
    video: Path
    tracks: dict[str, Path]  # system name -> audio file


@dataclasses.dataclass(frozen=True)
class CheckSpec:
    """An attention check: in one extra trial on `clip`, `replaces`' track is swapped for
    `audio` ("anchor": a known-bad file) or for that system's own track shifted by `offset`
    seconds ("offset")."""
    clip: str
    kind: str  # "offset" | "anchor"
    replaces: str
    offset: float = 0.5
    audio: Path | None = None


@dataclasses.dataclass(frozen=True)
class Manifest:
    name: str
    systems: tuple[str, ...]
    clips: tuple[ClipSpec, ...]
    axes: tuple[Axis, ...] = tuple(Axis(*a) for a in DEFAULT_AXES)
    scale_min: int = 1
    scale_max: int = 5
    scale_labels: dict[int, str] = dataclasses.field(default_factory=lambda: dict(DEFAULT_SCALE_LABELS))
    trials_per_participant: int = 10
    title: str = "Listening study"
    instructions: str = DEFAULT_INSTRUCTIONS
    consent: str = DEFAULT_CONSENT
    require_play: bool = True
    crossfade_ms: float = 30.0
    completion_url: str | None = None  # e.g. "https://app.prolific.com/submissions/complete?cc={code}"
    completion_code: str | None = None  # one code for all (Prolific style); None: random per participant
    checks: tuple[CheckSpec, ...] = ()
    checks_per_participant: int = 0
    duration_tolerance: float = 0.1  # seconds between a track and its video

    def study_config(self) -> dict:
        """The JSON config stored on the Study row (everything the pages need)."""
        return {
            "title": self.title,
            "axes": [dataclasses.asdict(a) for a in self.axes],
            "scale": {"min": self.scale_min, "max": self.scale_max,
                      "labels": {str(k): v for k, v in self.scale_labels.items()}},
            "trials_per_participant": self.trials_per_participant,
            "checks_per_participant": self.checks_per_participant,
            "instructions": self.instructions,
            "consent": self.consent,
            "require_play": self.require_play,
            "crossfade_ms": self.crossfade_ms,
            "completion_url": self.completion_url,
            "completion_code": self.completion_code,
        }


def _read_raw(path: Path) -> dict:
    text = path.read_text()
    if path.suffix.lower() == ".json":
        return json.loads(text)
    import yaml
    return yaml.safe_load(text)


def parse_manifest(path: str | os.PathLike) -> Manifest:
    """Parse and check the structure of a manifest (not the media; see `validate_media`)."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError([f"manifest file not found: {path}"])
    try:
        raw = _read_raw(path)
    except Exception as e:  # yaml / json syntax
        raise ManifestError([f"cannot parse {path}: {e}"]) from None
    if not isinstance(raw, dict):
        raise ManifestError(["the manifest must be a mapping"])
    base = path.parent
    problems: list[str] = []

    def rel(p) -> Path:
        p = Path(str(p))
        return p if p.is_absolute() else (base / p)

    systems = raw.get("systems") or []
    if not isinstance(systems, list) or not systems or not all(isinstance(s, str) for s in systems):
        problems.append("'systems' must be a non-empty list of names")
        systems = []
    if len(set(systems)) != len(systems):
        problems.append("system names must be unique")
    if len(systems) > 8:
        problems.append("at most 8 systems per trial (labels A..H)")

    clips = []
    for i, c in enumerate(raw.get("clips") or []):
        if not isinstance(c, dict) or "name" not in c or "video" not in c:
            problems.append(f"clip #{i} needs 'name' and 'video'")
            continue
        tracks = c.get("tracks") or {}
        missing = [s for s in systems if s not in tracks]
        if missing:
            problems.append(f"clip {c['name']!r} has no track for system(s) {missing}")
        extra = [s for s in tracks if s not in systems]
        if extra:
            problems.append(f"clip {c['name']!r} names unknown system(s) {extra}")
        clips.append(ClipSpec(str(c["name"]), rel(c["video"]),
                              {s: rel(t) for s, t in tracks.items() if s in systems}))
    if not clips:
        problems.append("'clips' must list at least one clip")
    names = [c.name for c in clips]
    if len(set(names)) != len(names):
        problems.append("clip names must be unique")

    axes = tuple(Axis(*a) for a in DEFAULT_AXES)
    if "axes" in raw:
        try:
            axes = tuple(Axis(str(a["key"]), str(a.get("name", a["key"])), str(a.get("question", "")))
                         for a in raw["axes"])
        except (TypeError, KeyError):
            problems.append("'axes' must be a list of {key, name, question}")
        if not axes or len({a.key for a in axes}) != len(axes):
            problems.append("axis keys must be unique and at least one axis is needed")

    scale = raw.get("scale") or {}
    smin, smax = int(scale.get("min", 1)), int(scale.get("max", 5))
    if not smin < smax <= smin + 10:
        problems.append(f"scale {smin}..{smax} is not a valid rating scale")
    labels = {int(k): str(v) for k, v in (scale.get("labels") or
                                          (DEFAULT_SCALE_LABELS if (smin, smax) == (1, 5) else {})).items()}

    n_trials = int(raw.get("trials_per_participant", min(10, max(len(clips), 1))))
    if not 1 <= n_trials <= max(len(clips), 1):
        problems.append(f"trials_per_participant={n_trials} must be between 1 and the number of clips ({len(clips)})")

    checks = []
    att = raw.get("attention_checks") or {}
    for i, ch in enumerate(att.get("items") or []):
        kind = ch.get("kind")
        clip = ch.get("clip")
        replaces = ch.get("replaces", ch.get("system"))
        if clip not in names:
            problems.append(f"attention check #{i} names unknown clip {clip!r}")
        if replaces not in systems:
            problems.append(f"attention check #{i} must name the system it replaces ('replaces'), got {replaces!r}")
        if kind == "offset":
            checks.append(CheckSpec(clip, "offset", replaces, offset=float(ch.get("offset", 0.5))))
        elif kind == "anchor":
            if "audio" not in ch:
                problems.append(f"attention check #{i} (anchor) needs 'audio'")
                continue
            checks.append(CheckSpec(clip, "anchor", replaces, audio=rel(ch["audio"])))
        else:
            problems.append(f"attention check #{i}: kind must be 'offset' or 'anchor', got {kind!r}")
    n_checks = int(att.get("per_participant", 1 if checks else 0))
    if n_checks > len(checks):
        problems.append(f"attention_checks.per_participant={n_checks} but only {len(checks)} checks defined")

    name = raw.get("name")
    if not name or not isinstance(name, str):
        problems.append("'name' (the study's unique name) is required")
    if problems:
        raise ManifestError(problems)
    kw = {k: raw[k] for k in ("title", "instructions", "consent", "completion_url", "completion_code") if raw.get(k) is not None}
    return Manifest(
        name=name, systems=tuple(systems), clips=tuple(clips), axes=axes, scale_min=smin,
        scale_max=smax, scale_labels=labels, trials_per_participant=n_trials,
        require_play=bool(raw.get("require_play", True)),
        crossfade_ms=float(raw.get("crossfade_ms", 30.0)), checks=tuple(checks),
        checks_per_participant=n_checks,
        duration_tolerance=float(raw.get("duration_tolerance", 0.1)), **kw)


# --------------------------------------------------------------------------- media

def video_duration(path: str | os.PathLike) -> float:
    """Duration of a video file in seconds (ffmpeg via imageio_ffmpeg)."""
    import imageio_ffmpeg
    gen = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(gen)
    finally:
        gen.close()
    return float(meta["duration"])


def audio_duration(path: str | os.PathLike) -> float:
    import soundfile
    info = soundfile.info(str(path))
    return info.frames / info.samplerate


def validate_media(m: Manifest) -> dict[Path, float]:
    """Check every file exists and every track matches its video's duration.

    Returns {path: duration}. Raises ManifestError listing all problems.
    """
    problems, durations = [], {}

    def dur(p: Path, fn) -> float | None:
        if p in durations:
            return durations[p]
        if not p.is_file():
            problems.append(f"missing file: {p}")
            return None
        try:
            durations[p] = fn(p)
        except Exception as e:
            problems.append(f"cannot read {p}: {e}")
            return None
        return durations[p]

    by_name = {c.name: c for c in m.clips}
    for c in m.clips:
        vd = dur(c.video, video_duration)
        for s, t in c.tracks.items():
            ad = dur(t, audio_duration)
            if vd is not None and ad is not None and abs(ad - vd) > m.duration_tolerance:
                problems.append(f"clip {c.name!r}, system {s!r}: track lasts {ad:.3f} s but the video "
                                f"{vd:.3f} s (tolerance {m.duration_tolerance} s)")
    for ch in m.checks:
        if ch.kind == "anchor":
            ad = dur(ch.audio, audio_duration)
            vd = durations.get(by_name[ch.clip].video)
            if vd is not None and ad is not None and abs(ad - vd) > m.duration_tolerance:
                problems.append(f"anchor {ch.audio} lasts {ad:.3f} s but clip {ch.clip!r} {vd:.3f} s")
    if problems:
        raise ManifestError(problems)
    return durations


def write_offset_track(src: Path, dst: Path, offset: float) -> None:
    """Write `src` delayed by `offset` seconds (negative: advanced), same length."""
    import numpy as np
    import soundfile
    wave, sr = soundfile.read(str(src), always_2d=True)  # (n, ch)
    shift = int(round(abs(offset) * sr))
    pad = np.zeros((shift, wave.shape[1]), wave.dtype)
    out = np.concatenate([pad, wave])[: len(wave)] if offset >= 0 else np.concatenate([wave[shift:], pad])
    dst.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(dst), out, sr)


def load_manifest(engine, manifest_path: str | os.PathLike, derived_dir: str | os.PathLike | None = None) -> int:
    """Validate a manifest with its media and store it as a new study. Returns the study id.

    Offset attention-check tracks are rendered into `derived_dir` (default: `_derived/`
    beside the manifest).
    """
    from sqlalchemy import select

    from . import db

    m = parse_manifest(manifest_path)
    durations = validate_media(m)
    derived = Path(derived_dir) if derived_dir else Path(manifest_path).parent / "_derived"
    with db.write_session(engine) as s:
        if s.scalar(select(db.Study.id).where(db.Study.name == m.name)) is not None:
            raise ManifestError([f"a study named {m.name!r} already exists in this database"])
        study = db.Study(name=m.name, config=m.study_config())
        s.add(study)
        systems = {n: db.System(name=n, study=study) for n in m.systems}
        s.add_all(systems.values())
        clips = {}
        for c in m.clips:
            clip = db.Clip(study=study, name=c.name, video_path=str(c.video.resolve()),
                           duration=durations[c.video])
            clips[c.name] = clip
            for sname, t in c.tracks.items():
                s.add(db.Track(clip=clip, system=systems[sname], audio_path=str(t.resolve()),
                               duration=durations[t]))
        s.flush()
        check_rows = []
        for i, ch in enumerate(m.checks):
            clip = clips[ch.clip]
            if ch.kind == "offset":
                src = next(c for c in m.clips if c.name == ch.clip).tracks[ch.replaces]
                dst = derived / f"study{study.id}_check{i}.wav"
                write_offset_track(src, dst, ch.offset)
                t = db.Track(clip=clip, system=systems[ch.replaces], audio_path=str(dst.resolve()),
                             duration=durations[src], check_kind="offset")
            else:  # a known-bad anchor belongs to no system
                t = db.Track(clip=clip, system=None, audio_path=str(ch.audio.resolve()),
                             duration=durations[ch.audio], check_kind="anchor")
            s.add(t)
            check_rows.append((ch, t))
        s.flush()
        cfg = dict(study.config)  # server-side only; the pages get a whitelisted subset
        cfg["checks"] = [{"track_id": t.id, "clip_id": clips[ch.clip].id, "kind": ch.kind,
                          "replaces_system_id": systems[ch.replaces].id} for ch, t in check_rows]
        study.config = cfg
        return study.id
