"""Study manifest (YAML or JSON): parsing, validation against the media files, loading.

Paths are relative to the manifest's folder. See study/README.md for the format.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import tempfile
from pathlib import Path

from .media import MediaError, MediaSpec
from .prepare import Prepared, duration_warnings, prepare_media

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
    media: MediaSpec = MediaSpec()   # the one format, loudness and length every track is given
    on_duration_mismatch: str = "warn"  # "warn": trim / pad and report; "error": refuse the study
    min_listen_s: float = 3.0        # each track must play this long (at most the clip) before rating
    abandon_after_min: float = 60.0  # an unfinished participant idle this long stops counting for balance
    max_participants: int | None = None  # cap on completed + active participants

    @property
    def duration_tolerance(self) -> float:
        return self.media.duration_tolerance

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
            "min_listen_s": self.min_listen_s,
            "abandon_after_min": self.abandon_after_min,
            "media": dataclasses.asdict(self.media),
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

    media, mismatch = _parse_media(raw, problems)
    min_listen = _number(raw, "min_listen_s", 3.0, 0.0, 600.0, problems)
    abandon = _number(raw, "abandon_after_min", 60.0, 1.0, 7 * 24 * 60.0, problems)
    cap = raw.get("max_participants")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
        problems.append("'max_participants' must be a positive integer")
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
        checks_per_participant=n_checks, media=media, on_duration_mismatch=mismatch,
        min_listen_s=min_listen, abandon_after_min=abandon, max_participants=cap, **kw)


def _number(raw: dict, key: str, default: float, lo: float, hi: float, problems: list[str]) -> float:
    v = raw.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not lo <= v <= hi:
        problems.append(f"'{key}' must be a number in {lo:g}..{hi:g}")
        return default
    return float(v)


def _parse_media(raw: dict, problems: list[str]) -> tuple[MediaSpec, str]:
    """The `media:` block: sample_rate, channels, loudness (LUFS; null/false: off), peak_dbfs,
    duration_tolerance (also accepted at the top level), on_duration_mismatch (warn | error)."""
    med = raw.get("media") or {}
    if not isinstance(med, dict):
        problems.append("'media' must be a mapping")
        med = {}
    unknown = set(med) - {"sample_rate", "channels", "loudness", "peak_dbfs", "duration_tolerance",
                          "on_duration_mismatch"}
    if unknown:
        problems.append(f"'media' has unknown key(s) {sorted(unknown)}")
    loud = med.get("loudness", -23.0)
    mismatch = med.get("on_duration_mismatch", raw.get("on_duration_mismatch", "warn"))
    if mismatch not in ("warn", "error"):
        problems.append("media.on_duration_mismatch must be 'warn' or 'error'")
        mismatch = "warn"
    try:
        spec = MediaSpec(sample_rate=int(med.get("sample_rate", 48000)), channels=int(med.get("channels", 1)),
                         loudness_lufs=None if loud in (None, False) else float(loud),
                         peak_dbfs=float(med.get("peak_dbfs", -1.0)),
                         duration_tolerance=float(med.get("duration_tolerance", raw.get("duration_tolerance", 0.1))))
    except (MediaError, TypeError, ValueError) as e:
        problems.append(str(e) if isinstance(e, MediaError) else "'media' values must be numbers")
        spec = MediaSpec()
    return spec, mismatch



# --------------------------------------------------------------------------- loading

def check_manifest(path: str | os.PathLike) -> tuple[Manifest, list[str]]:
    """Parse a manifest and convert all its media in a scratch folder: (manifest, warnings).

    Raises ManifestError listing every problem (and duration mismatches when the manifest
    says on_duration_mismatch: error)."""
    m = parse_manifest(path)
    with tempfile.TemporaryDirectory(prefix="study-check-") as tmp:
        return m, _prepared(m, tmp).warnings


def _prepared(m: Manifest, out_dir) -> Prepared:
    p = prepare_media(m, out_dir)
    problems = list(p.problems)
    if m.on_duration_mismatch == "error":
        problems += duration_warnings(p)
    if problems:
        raise ManifestError(problems)
    return p


def load_manifest(engine, manifest_path: str | os.PathLike, derived_dir: str | os.PathLike | None = None,
                  warnings: list[str] | None = None) -> int:
    """Validate a manifest, normalise its media and store it as a new study; returns its id.

    The served copies (videos without audio, tracks as WAV at one rate, loudness and length;
    attention-check tracks) go into a new folder under `derived_dir` (default `_derived/`
    beside the manifest). Warnings (trimmed / padded / silent tracks) are appended to
    `warnings` when a list is given.
    """
    from sqlalchemy import select

    from . import db

    m = parse_manifest(manifest_path)
    with db.read_session(engine) as s:
        if s.scalar(select(db.Study.id).where(db.Study.name == m.name)) is not None:
            raise ManifestError([f"a study named {m.name!r} already exists in this database"])
    derived = Path(derived_dir) if derived_dir else Path(manifest_path).parent / "_derived"
    prep = _prepared(m, derived / f"media-{secrets.token_hex(6)}")
    if warnings is not None:
        warnings.extend(prep.warnings)
    with db.write_session(engine) as s:
        if s.scalar(select(db.Study.id).where(db.Study.name == m.name)) is not None:
            raise ManifestError([f"a study named {m.name!r} already exists in this database"])
        study = db.Study(name=m.name, config=m.study_config(), max_participants=m.max_participants)
        s.add(study)
        systems = {n: db.System(name=n, study=study) for n in m.systems}
        s.add_all(systems.values())
        clips = {}
        for c in m.clips:
            video, duration = prep.videos[c.name]
            clips[c.name] = clip = db.Clip(study=study, name=c.name, video_path=str(video.resolve()),
                                           duration=duration, source_path=str(c.video.resolve()))
            for sname, src in c.tracks.items():
                path, info = prep.tracks[(c.name, sname)]
                s.add(db.Track(clip=clip, system=systems[sname], audio_path=str(path.resolve()),
                               duration=duration, source_path=str(src.resolve()), media_info=info))
        check_rows = []
        for i, ch in enumerate(m.checks):
            path, info = prep.checks[i]
            src = ch.audio if ch.kind == "anchor" else m_track(m, ch.clip, ch.replaces)
            t = db.Track(clip=clips[ch.clip], system=systems[ch.replaces] if ch.kind == "offset" else None,
                         audio_path=str(path.resolve()), duration=clips[ch.clip].duration,
                         check_kind=ch.kind, source_path=str(Path(src).resolve()), media_info=info)
            s.add(t)
            check_rows.append((ch, t))
        s.flush()
        cfg = dict(study.config)  # server-side only; the pages get a whitelisted subset
        cfg["checks"] = [{"track_id": t.id, "clip_id": clips[ch.clip].id, "kind": ch.kind,
                          "replaces_system_id": systems[ch.replaces].id} for ch, t in check_rows]
        study.config = cfg
        return study.id


def m_track(m: Manifest, clip: str, system: str) -> Path:
    return next(c for c in m.clips if c.name == clip).tracks[system]
