"""SynthFoley clip generation speed on this machine (moved here from a test: speed is measured,
never asserted). Prints seconds per 5 s clip at 64 px, the median of N clips after a warm-up.

    python benchmarks/synthfoley.py [--clips 8] [--seconds 5] [--size 64]
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
    a = p.parse_args(argv)
    make_clip(0, a.seconds, a.size)                       # warm-up (imports, caches)
    times = []
    for seed in range(100, 100 + a.clips):
        t0 = time.perf_counter()
        make_clip(seed, a.seconds, a.size)
        times.append(time.perf_counter() - t0)
    per_clip = statistics.median(times)
    print(f"SynthFoley: {per_clip:.3f} s per {a.seconds:g} s clip at {a.size} px "
          f"(median of {a.clips}; {per_clip / a.seconds:.4f} s per second of content, "
          f"{a.seconds / per_clip:.1f}x real time)")


if __name__ == "__main__":
    main()
