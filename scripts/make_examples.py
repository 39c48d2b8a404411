"""Write small SynthFoley example clips (mp4 + sidecar JSON) from held-out seeds.

    python scripts/make_examples.py [--out examples]

Six 6 s clips at 112 px and one 30 s long-form clip at 96 px; each < 300 KB.
"""
import argparse
import json
from pathlib import Path

from salsav_core.data.synthfoley import HELDOUT_SEED0, make_clip, make_long_clip, write_mp4


def sidecar(clip) -> dict:
    return {"seed": clip.seed, "duration": clip.duration, "caption": clip.caption,
            "scene": {k: v for k, v in clip.scene.items() if k != "quiet_windows"},
            "events": [{"time": round(e.time, 5), "kind": e.kind, "material": e.material,
                        "strength": round(e.strength, 3)} for e in clip.events],
            "silent_spans": [[round(a, 3), round(b, 3)] for a, b in clip.silent_spans]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="examples")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(f"synthfoley_{k}", make_clip(HELDOUT_SEED0 + k, 6.0, 112)) for k in range(6)]
    jobs.append(("synthfoley_long30", make_long_clip(HELDOUT_SEED0 + 100, 30.0, 96)))
    for name, clip in jobs:
        path = out / f"{name}.mp4"
        write_mp4(clip, path, crf=28 if clip.duration < 20 else 34, audio_bitrate=64_000)
        (out / f"{name}.json").write_text(json.dumps(sidecar(clip), indent=1))
        print(f"{path}  {path.stat().st_size / 1024:.0f} KB  {len(clip.events)} events  {clip.caption}")


if __name__ == "__main__":
    main()
