"""SynthFoley clip generation speed on this machine (moved here from a test: speed is measured,
never asserted). Prints seconds per 5 s clip at 64 px, the median of N clips after a warm-up.

    python benchmarks/synthfoley.py [--clips 8] [--seconds 5] [--size 64] [--world default|varied|both]

--world both times the classic and the varied world on the same seeds, interleaved, and prints
the ratio measured in this run.
"""
from __future__ import annotations

import argparse
import statistics
import time

from salsav_core.data.synthfoley import make_clip


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clips", type=int, default=8)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--world", choices=("default", "varied", "both"), default="default")
    a = p.parse_args(argv)
    worlds = ["default", "varied"] if a.world == "both" else [a.world]
    times = {w: [] for w in worlds}
    for w in worlds:
        make_clip(0, a.seconds, a.size, world=w)          # warm-up (imports, caches)
    for seed in range(100, 100 + a.clips):
        for w in worlds:
            t0 = time.perf_counter()
            make_clip(seed, a.seconds, a.size, world=w)
            times[w].append(time.perf_counter() - t0)
    per_clip = {w: statistics.median(t) for w, t in times.items()}
    for w, pc in per_clip.items():
        print(f"SynthFoley ({w} world): {pc:.3f} s per {a.seconds:g} s clip at {a.size} px "
              f"(median of {a.clips}; {pc / a.seconds:.4f} s per second of content, "
              f"{a.seconds / pc:.1f}x real time)")
    if len(per_clip) == 2:
        print(f"varied / default: {per_clip['varied'] / per_clip['default']:.2f}x")


if __name__ == "__main__":
    main()
