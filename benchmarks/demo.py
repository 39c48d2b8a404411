"""Web overhead of the demo: request→response time through gradio_client against the bare
`Pipeline.generate()` time, for a 10 s made-up video at 1, 8 and 32 steps.

    python benchmarks/demo.py                      # bundled checkpoint if present, else cpu-small random init
    python benchmarks/demo.py --preset test --repeats 1

The client time includes the upload, the server-side checks and probe, the spectrogram,
the int16 WAV, gradio's file cache and the downloads of the three outputs.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import tempfile
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("JAX_PLATFORMS", "cpu")


def _pipeline(args):
    from salsav_core.pipeline import DEFAULT_CHECKPOINT, Pipeline
    if args.preset is None and os.path.isfile(os.path.join(args.checkpoint or DEFAULT_CHECKPOINT, "config.json")):
        return Pipeline.from_pretrained(args.checkpoint or DEFAULT_CHECKPOINT), "checkpoint"
    preset = args.preset or "cpu-small"
    return Pipeline.random_init(preset, args.encoder_preset), f"random-init {preset}/{args.encoder_preset}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--preset", default=None, help="random-init model preset instead of a checkpoint")
    ap.add_argument("--encoder-preset", default="tiny")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--steps", default="1,8,32")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from gradio_client import Client, handle_file

    import webapp
    from webapp.media import make_test_video
    from webapp.settings import DemoSettings

    pipe, what = _pipeline(args)
    settings = DemoSettings(max_video_seconds=max(args.seconds, 60.0))
    demo = webapp.build_demo(pipe, settings)
    t_warm = webapp.warmup(pipe, settings)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo.launch(prevent_thread_lock=True, server_name="127.0.0.1", server_port=port, quiet=True,
                **webapp.launch_kwargs(settings))
    client = Client(f"http://127.0.0.1:{port}/", verbose=False)
    work = tempfile.mkdtemp(prefix="salsav-bench-")
    video = make_test_video(os.path.join(work, "bench.mp4"), args.seconds, size=128)
    client.predict(handle_file(video), "", "", 1, 4.0, 0, False, None, 0.0, False, 0.0, 0.0,
                   api_name="/generate")   # first request: compiles the 10 s shapes everywhere

    print(f"model: {what} · video {args.seconds:g} s · warm-up {t_warm:.1f} s · "
          f"median of {args.repeats} · this machine ({os.cpu_count()} cores)")
    print(f"{'steps':>5} {'generate() s':>13} {'client s':>9} {'overhead s':>11} {'ratio':>6}")
    for steps in map(int, args.steps.split(",")):
        bare, web = [], []
        for r in range(args.repeats):
            t0 = time.perf_counter()
            pipe.generate(video, steps=steps, guidance=4.0, seed=r, out_path=os.path.join(work, "bare.mp4"))
            bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            client.predict(handle_file(video), "", "", steps, 4.0, r, False, None, 0.0, False, 0.0, 0.0,
                           api_name="/generate")
            web.append(time.perf_counter() - t0)
        b, w = statistics.median(bare), statistics.median(web)
        print(f"{steps:>5} {b:>13.2f} {w:>9.2f} {w - b:>11.2f} {w / b:>5.2f}×")
    demo.close()


if __name__ == "__main__":
    main()
