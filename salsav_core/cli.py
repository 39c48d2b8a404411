"""`salsav`: generate synchronized audio for a video, inspect models, train, evaluate.

    salsav generate IN.mp4 -o OUT.mp4 [--steps 8] [--guidance 4] [--prompt TEXT] [--seed N]
                   [--schedule uniform|fine-start] [--audio-codec flac|aac]
                   [--reference REF.wav --reference-start S] [--checkpoint PATH_OR_REPO]
    salsav info [--preset paper-large] [--checkpoint PATH]
    salsav train semantic|sync|generator ...      (each has its own --help)
    salsav eval [--clips N] [--steps 1,2,4,8,16,32] [--out FILE.json]
"""
from __future__ import annotations

import argparse
import os
import sys

EXAMPLES = """examples:
  salsav generate examples/clip.mp4 -o out.mp4                 # 8 steps, guidance 4, bundled model
  salsav generate in.mp4 -o out.mp4 --steps 1 --seed 7         # one shortcut step, reproducible
  salsav generate in.mp4 -o out.mp4 --reference ref.wav --reference-start 0
  salsav info --preset paper-large                             # parameter count, no memory used
  salsav train generator --help
"""


# Each subcommand imports what it runs inside its function: jax, flax and the model take
# seconds to import, and `salsav --help`, `salsav info` and `salsav train` need only part of it.

def _cmd_generate(a) -> int:
    from tqdm.auto import tqdm

    from .checkpoints import CheckpointError
    from .pipeline import DEFAULT_CHECKPOINT, Pipeline
    from .request import GenerationError, prepare
    from .sampler import DEFAULT_SCHEDULE
    if not os.path.exists(a.input):
        return _fail(f"no such file: {a.input}")
    try:   # every value checked, the video probed and the reference read before the model loads
        req = prepare(a.input, prompt=a.prompt, negative_prompt=a.negative_prompt, steps=a.steps,
                      guidance=a.guidance, seed=a.seed, reference_audio=a.reference,
                      reference_start=a.reference_start, start=a.start, duration=a.duration,
                      schedule=a.schedule or DEFAULT_SCHEDULE, audio_codec=a.audio_codec)
    except GenerationError as e:
        return _fail(str(e))
    try:
        pipe = Pipeline.from_pretrained(a.checkpoint or DEFAULT_CHECKPOINT)
    except CheckpointError as e:
        return _fail(str(e))
    bar = tqdm(total=None, desc="windows", unit="win", disable=a.quiet)

    def progress(i, n):
        bar.total = n
        bar.update(i - bar.n)

    try:
        res = pipe.run(req, progress=progress, out_path=a.output)
    except GenerationError as e:
        bar.close()
        return _fail(str(e))
    bar.close()
    if a.wav:
        import soundfile as sf
        sf.write(a.wav, res.wave, res.sample_rate, subtype="PCM_16")
    t = res.timings
    print(f"{res.video_path}: {res.steps} steps, guidance {res.guidance:g}, seed {res.seed} · "
          f"{t['sampling']:.2f} s sampling for {res.duration:.1f} s of audio "
          f"({res.duration / max(t['total'], 1e-9):.1f}× real time overall) · "
          + " · ".join(f"{k} {v:.2f} s" for k, v in t.items() if k != "sampling"))
    return 0


def _cmd_info(a) -> int:
    from .config import MODEL_PRESETS, model_preset
    from .model.network import param_count
    if a.checkpoint:
        from .checkpoints import CheckpointError, load_folder, resolve
        try:
            cfg, tensors = load_folder(resolve(a.checkpoint))
        except CheckpointError as e:
            return _fail(str(e))
        import numpy as np
        for part in ("generator", "semantic", "sync"):
            n = sum(int(np.prod(v.shape)) for k, v in tensors.items() if k.startswith(part + "/"))
            print(f"{part:10s} {n / 1e6:8.2f}M parameters")
        print("generator config:", cfg.get("generator"))
        print("trained:", {k: v for k, v in cfg.get("meta", {}).items() if k != "run"})
        return 0
    names = [a.preset] if a.preset else list(MODEL_PRESETS)
    for name in names:
        try:
            cfg = model_preset(name)
        except ValueError as e:
            return _fail(str(e))
        n = param_count(cfg)
        print(f"{name:12s} {n / 1e6:9.2f}M parameters  (hidden {cfg.hidden}, heads {cfg.heads}, "
              f"{cfg.mm_blocks} MMDiT-X blocks ({cfg.mm_self_attn_blocks} with audio self-attention) "
              f"+ {cfg.dit_blocks} DiT blocks, window {cfg.window_seconds:g} s)")
    return 0


def _fail(msg: str) -> int:
    print(f"salsav: error: {msg}", file=sys.stderr)
    return 2


def _exit_now(rc: int) -> None:
    """End the process without Python's teardown, which spends about 0.75 s here taking JAX's
    runtime apart after the work is done (every file is closed by then; stdout and stderr are
    flushed). Only for a process started as `salsav generate`, never for main() called inline."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)


def main(argv=None) -> int:
    from_command_line = argv is None
    argv = list(sys.argv[1:] if argv is None else argv)
    from .runtime import enable_compile_cache
    enable_compile_cache()          # compiled programs persist across runs (SALSAV_COMPILE_CACHE=0: off)
    # Subcommands with their own parsers: hand over the rest of the line untouched.
    if argv[:1] == ["train"]:
        kind = argv[1] if len(argv) > 1 else ""
        if kind == "generator":
            from .train_generator import main as train_main
            return train_main(argv[2:]) or 0
        if kind in ("semantic", "sync"):
            from .encoders.train import main as enc_main
            return enc_main(argv[1:]) or 0
        return _fail("usage: salsav train semantic|sync|generator [options] (add --help)")
    if argv[:1] == ["eval"]:
        from .eval.cli import main as eval_main
        return eval_main(argv[1:]) or 0

    from .video_mux import AUDIO_CODECS, DEFAULT_AUDIO_CODEC   # the one table of output codecs
    p = argparse.ArgumentParser(prog="salsav", description=__doc__, epilog=EXAMPLES,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="add generated audio to a video",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g.add_argument("input", help="input video (mp4, mov, webm, …)")
    g.add_argument("-o", "--output", required=True, help="output mp4 (input video + generated audio)")
    g.add_argument("--steps", type=int, default=8, help="sampling steps: 1, 2, 4, 8, 16, 32 or 64")
    g.add_argument("--guidance", type=float, default=4.0, help="classifier-free guidance scale")
    g.add_argument("--schedule", default=None,
                   help="sampler step sizes: uniform (the default, the paper's) or fine-start "
                        "(finer near the noise)")
    g.add_argument("--audio-codec", default=DEFAULT_AUDIO_CODEC, choices=tuple(AUDIO_CODECS),
                   help="the output mp4's sound: lossless FLAC, or AAC for players that want it")
    g.add_argument("--prompt", default="", help="optional text describing the sound")
    g.add_argument("--negative-prompt", default="", help="text to steer away from")
    g.add_argument("--seed", type=int, default=None, help="random seed (default: random, printed)")
    g.add_argument("--reference", default=None, help="reference audio placed in the output")
    g.add_argument("--reference-start", type=float, default=0.0, help="where it starts (s)")
    g.add_argument("--start", type=float, default=0.0, help="start of the video range (s)")
    g.add_argument("--duration", type=float, default=None, help="length of the range (s)")
    g.add_argument("--checkpoint", default=None, help="folder or Hub repo id (default: bundled)")
    g.add_argument("--wav", default=None, help="also write the audio as 16-bit WAV")
    g.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    i = sub.add_parser("info", help="parameter counts of presets or a checkpoint")
    i.add_argument("--preset", default=None, help="model preset (default: all)")
    i.add_argument("--checkpoint", default=None, help="a checkpoint folder or Hub repo id")
    sub.add_parser("train", help="train the semantic encoder, the sync model or the generator")
    sub.add_parser("eval", help="evaluate a checkpoint on held-out SynthFoley clips")
    a = p.parse_args(argv)
    rc = {"generate": _cmd_generate, "info": _cmd_info}[a.cmd](a)
    if from_command_line and a.cmd == "generate":
        _exit_now(rc)
    return rc


if __name__ == "__main__":
    sys.exit(main())
