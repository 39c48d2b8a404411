"""`python -m study build`: make tracks for our own model variants with generate() and write
a manifest, so a researcher can compare variants (e.g. 8 vs 32 steps, guidance 1 vs 4).

Build config (YAML/JSON):

    name: steps-study
    checkpoint: checkpoints/salsav-synthfoley   # needed only for variants
    out: studies/steps                 # tracks/<system>/<clip>.wav and manifest.yaml go here
    videos: [clips/a.mp4, clips/b.mp4]  # or a folder
    seed: 0
    variants:                           # optional when every system is external
      - {name: salsav-8,  steps: 8,  guidance: 4.0}
      - {name: salsav-32, steps: 32, guidance: 4.0}
    external:                           # optional: other systems' existing tracks (any format)
      mmaudio: other/mmaudio/{clip}.wav
    manifest: {trials_per_participant: 2}   # extra manifest fields
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable


class BuildError(ValueError):
    pass


def _videos(spec, base: Path) -> list[Path]:
    if isinstance(spec, str) and (base / spec).is_dir():
        return sorted(p for p in (base / spec).iterdir() if p.suffix.lower() in (".mp4", ".mov", ".webm", ".mkv"))
    return [base / v for v in spec]


def default_generate(checkpoint: str) -> Callable:
    """generate(video, steps, guidance, seed) -> (wave, sample_rate) through the real pipeline."""
    from salsav_core.pipeline import Pipeline  # lazy: the heavy model stack

    pipe = Pipeline.from_pretrained(checkpoint)

    def gen(video: str, steps: int, guidance: float, seed: int):
        res = pipe.generate(video, steps=steps, guidance=guidance, seed=seed, mux=False)   # the wave only
        return res.wave, res.sample_rate
    return gen


def build(config_path: str | os.PathLike, generate: Callable | None = None) -> Path:
    """Generate every video x variant track, write them and a manifest; return its path."""
    import numpy as np
    import soundfile
    import yaml

    config_path = Path(config_path)
    base = config_path.parent
    cfg = yaml.safe_load(config_path.read_text())
    for k in ("name", "out", "videos"):
        if k not in cfg:
            raise BuildError(f"build config needs {k!r}")
    cfg["variants"] = cfg.get("variants") or []
    if not cfg["variants"] and not cfg.get("external"):
        raise BuildError("build config needs 'variants' (our model) or 'external' (other systems' tracks)")
    out = base / cfg["out"]
    videos = _videos(cfg["videos"], base)
    missing = [str(v) for v in videos if not v.is_file()]
    if missing or not videos:
        raise BuildError(f"missing videos: {missing or 'none given'}")
    names = [v["name"] for v in cfg["variants"]]
    if len(set(names)) != len(names):
        raise BuildError("variant names must be unique")
    if generate is None and cfg["variants"]:   # all-external studies need no checkpoint
        if "checkpoint" not in cfg:
            raise BuildError("build config needs 'checkpoint'")
        ck = cfg["checkpoint"]
        generate = default_generate(str(base / ck) if (base / ck).exists() else ck)
    seed = int(cfg.get("seed", 0))
    clips = []
    for i, video in enumerate(videos):
        clip = video.stem
        tracks = {}
        for v in cfg["variants"]:
            wave, sr = generate(str(video.resolve()), int(v.get("steps", 8)), float(v.get("guidance", 4.0)), seed + i)
            dst = out / "tracks" / v["name"] / f"{clip}.wav"
            dst.parent.mkdir(parents=True, exist_ok=True)
            soundfile.write(str(dst), np.asarray(wave, dtype=np.float32), int(sr))
            tracks[v["name"]] = os.path.relpath(dst.resolve(), out.resolve())
        for sysname, pattern in (cfg.get("external") or {}).items():
            tracks[sysname] = os.path.relpath((base / pattern.format(clip=clip)).resolve(), out.resolve())
        clips.append({"name": clip, "video": os.path.relpath(video.resolve(), out.resolve()), "tracks": tracks})
    manifest = {"name": cfg["name"], "systems": names + list(cfg.get("external") or {}), "clips": clips,
                "trials_per_participant": min(10, len(clips)), **(cfg.get("manifest") or {})}
    out.mkdir(parents=True, exist_ok=True)
    path = out / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path
