"""The demo page: `build_demo(pipeline, settings) -> gr.Blocks`, `warmup(pipeline)`, and
`mount_demo(app, ...)` for the one-process server in the root `app.py`."""
from __future__ import annotations

import dataclasses
import inspect
import json
import logging
import os
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # before gradio is imported

import gradio as gr  # noqa: E402

from salsav_core.pipeline import Pipeline  # noqa: E402
from salsav_core.request import GenerationError  # noqa: E402
from webapp import service, sync_view  # noqa: E402
from webapp.media import make_test_video  # noqa: E402
from webapp.settings import DemoSettings  # noqa: E402

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parents[1]
WARM = threading.Event()     # clear while a background warm-up runs: requests wait for it
WARM.set()

# Hides the exponent's number box next to the steps slider (the step count is shown instead).
CSS = """
#steps-slider input[type=number], #steps-slider button.reset-button,
#steps-slider .min_value, #steps-slider .max_value { display: none; }
#steps-slider .info-text { word-spacing: 0.35em; }
#steps-value input { font-weight: 600; text-align: center; }
#timings p { font-variant-numeric: tabular-nums; }
.compare-col { min-width: 180px; }
"""

INTRO = """\
# SALSA-V: sound for silent videos

Upload a short silent video (or pick an example below) and the model generates synchronized
audio for it. **Steps** trades speed for quality (the shortcut model works from a single
step); **guidance** sets how strongly the sound follows the picture and the prompt. The model is
small and was trained only on *SynthFoley*, procedural scenes of colliding objects, so expect
impact sounds, not speech or music. See the **About** tab for details and the model card.
"""


def _resolve(path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else ROOT / p


def _guarded(fn):
    """Turns refused input into a readable `gr.Error`; anything else into a short generic one."""
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except GenerationError as e:          # refused input (DemoInputError is one too)
            raise gr.Error(str(e), title="Cannot generate") from None
        except Exception:
            log.exception("demo request failed")
            raise gr.Error("Something went wrong while generating; please try again with another "
                           "video or settings.", title="Generation failed") from None
    wrapped.__name__, wrapped.__doc__ = fn.__name__, fn.__doc__
    wrapped.__signature__ = inspect.signature(fn)
    return wrapped


def find_examples(settings: DemoSettings) -> list[list]:
    """[video, prompt] rows from `examples_dir/*.mp4` with optional sidecar JSON (caption/prompt)."""
    rows = []
    folder = _resolve(settings.examples_dir)
    for mp4 in sorted(folder.glob("*.mp4")) if folder.is_dir() else []:
        prompt = ""
        side = mp4.with_suffix(".json")
        if side.is_file():
            try:
                meta = json.loads(side.read_text())
                prompt = str(meta.get("prompt") or meta.get("caption") or "")
            except (OSError, ValueError):
                pass
        rows.append([str(mp4), prompt])
    return rows


def _model_card(settings: DemoSettings) -> str | None:
    """The model card's Markdown without its Hub metadata header (the YAML between `---` lines)."""
    p = _resolve(settings.model_card)
    if not p.is_file():
        return None
    text = p.read_text()
    if text.startswith("---\n") and "\n---\n" in text[4:]:
        text = text[4:].split("\n---\n", 1)[1].lstrip("\n")
    return text


def build_demo(pipeline: Pipeline, settings: DemoSettings | None = None) -> gr.Blocks:
    """The whole page; queue with one worker (one model in memory)."""
    settings = settings or DemoSettings()
    workdirs = service.Workdirs()
    choices = settings.step_choices

    @_guarded
    def generate(video, prompt="", negative_prompt="", steps=settings.default_steps,
                 guidance=settings.default_guidance, seed=0, random_seed=True, reference_audio=None,
                 reference_start=0.0, trim=False, start=0.0, end=0.0, progress=gr.Progress()):
        """Generate audio for a video. Every parameter but the video has a default (a random
        seed unless random_seed is False). Returns (video with sound, int16 WAV, spectrogram,
        timings, seed)."""
        req = service.build_request(settings, video, prompt, negative_prompt, steps, guidance, seed,
                                    random_seed, reference_audio, reference_start, trim, start, end)

        def on_window(done, n):   # called after each long-form window
            progress((done, n), desc="Generating", unit="windows")

        progress(0.0, desc="Reading the video")
        WARM.wait()
        out = service.run_request(pipeline, req, workdirs.new(), progress=on_window)
        return out.video_path, out.audio_path, out.spectrogram, out.timings_text, out.seed

    @_guarded
    def compare_steps(video, prompt="", negative_prompt="", guidance=settings.default_guidance, seed=0,
                      random_seed=True, trim=False, start=0.0, end=0.0, progress=gr.Progress()):
        """The same seed at each of the compare step counts; per column: spectrogram, WAV, time."""
        req = service.build_request(settings, video, prompt, negative_prompt, settings.default_steps,
                                    guidance, seed, random_seed, None, 0.0, trim, start, end)
        outs, rows = [], []
        WARM.wait()
        for k, n in enumerate(settings.compare_steps):
            progress(k / len(settings.compare_steps), desc=f"{n} steps")
            r = dataclasses.replace(req, steps=n)
            o = service.run_request(pipeline, r, workdirs.new(), out_name=f"salsav-{n}steps",
                                    spectrogram_size=(4.0, 3.2), title="")
            outs += [o.spectrogram, o.audio_path, f"**{n} step{'s' if n > 1 else ''}** · {o.timings_text.split(' · ')[1]}"]
            rows.append(o.timings_text)
        summary = f"Seed {req.seed}, guidance {req.guidance:g}:\n\n" + "\n".join(f"- {r}" for r in rows)
        return (*outs, summary)

    with gr.Blocks(title="SALSA-V · video to audio", delete_cache=(1800, 3600),
                   analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        with gr.Tabs():
            with gr.Tab("Generate", id="generate"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=5):
                        video_in = gr.Video(label="Silent video", sources=["upload"], height=280,
                                            elem_id="video-in")
                        prompt = gr.Textbox(value="", label="Prompt (optional)", lines=1,
                                            placeholder="e.g. a metal ball bouncing on a wooden floor")
                        negative = gr.Textbox(value="", label="Negative prompt (optional)", lines=1,
                                              placeholder="sounds to steer away from, e.g. glass")
                        with gr.Row(equal_height=True):
                            steps_exp = gr.Slider(0, len(choices) - 1, value=choices.index(settings.default_steps),
                                                  step=1, label="Sampling steps",
                                                  info=" · ".join(map(str, choices)), scale=4,
                                                  elem_id="steps-slider")
                            steps = gr.Number(value=settings.default_steps, label="steps", precision=0,
                                              interactive=False, scale=1, min_width=70, elem_id="steps-value")
                        guidance = gr.Slider(settings.guidance_min, settings.guidance_max,
                                             value=settings.default_guidance, step=0.5,
                                             label="Guidance strength", info="1 = none · 4 = default",
                                             elem_id="guidance-slider")
                        with gr.Row(equal_height=True):
                            seed = gr.Number(value=0, precision=0, label="Seed", minimum=0, scale=2)
                            random_seed = gr.Checkbox(value=True, label="Random seed", scale=1)
                        with gr.Accordion("Reference audio and trimming", open=False):
                            ref_audio = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                                 label="Reference audio (optional): the model continues it")
                            ref_start = gr.Number(value=0.0, label="Reference placed at (seconds into the output)",
                                                  minimum=0)
                            trim = gr.Checkbox(value=False, label="Use only part of the video")
                            with gr.Row():
                                start = gr.Number(value=0.0, label="From (s)", minimum=0)
                                end = gr.Number(value=0.0, label="To (s, 0 = end of video)", minimum=0)
                        run_btn = gr.Button("Generate sound", variant="primary", elem_id="generate-btn")
                    with gr.Column(scale=6):
                        video_out = gr.Video(label="Video with generated sound", interactive=False,
                                             height=280, elem_id="video-out")
                        timings = gr.Markdown("*The timings of your run will appear here.*", elem_id="timings")
                        spec = gr.Image(label="Spectrogram (shaded: reference audio · dashed: window seams)",
                                        type="numpy", format="png", interactive=False, elem_id="spectrogram")
                        sync_img = gr.Image(label="Sync view: the sound's onsets over the picture's motion",
                                            type="numpy", format="png", interactive=False, elem_id="sync-view")
                        with gr.Row(equal_height=True):
                            audio_out = gr.Audio(label="Generated audio (16-bit WAV)", type="filepath",
                                                 interactive=False, buttons=["download"], scale=4,
                                                 elem_id="audio-out")
                            seed_used = gr.Number(label="Seed used", precision=0, interactive=False, scale=1,
                                                  elem_id="seed-used")
                rows = find_examples(settings)
                if rows:
                    gr.Examples(rows, inputs=[video_in, prompt], label="Examples (click one)",
                                cache_examples=False, examples_per_page=8)

            with gr.Tab("Compare steps", id="compare"):
                gr.Markdown(
                    "The same video, prompt, guidance and seed (from the **Generate** tab) at "
                    f"{', '.join(map(str, settings.compare_steps))} steps. The shortcut model is "
                    "trained to give usable audio from one step; more steps refine it.")
                cmp_btn = gr.Button("Compare step counts", variant="primary", elem_id="compare-btn")
                cmp_outs = []
                with gr.Row():
                    for n in settings.compare_steps:
                        with gr.Column(min_width=180, elem_classes="compare-col"):
                            head = gr.Markdown(f"**{n} step{'s' if n > 1 else ''}**")
                            im = gr.Image(show_label=False, type="numpy", format="png", interactive=False)
                            au = gr.Audio(show_label=False, type="filepath", interactive=False,
                                          buttons=["download"])
                            cmp_outs += [im, au, head]
                cmp_summary = gr.Markdown(elem_id="compare-summary")

            with gr.Tab("About", id="about"):
                gr.Markdown((Path(__file__).parent / "about.md").read_text())
                card = _model_card(settings)
                with gr.Accordion(f"Model card ({settings.model_card})", open=False):
                    gr.Markdown(card if card else "*The model card is not bundled with this checkout.*")

        steps_exp.change(lambda k: choices[int(k)], steps_exp, steps, api_visibility="private",
                         queue=False, show_progress="hidden")
        random_seed.change(lambda r: gr.update(interactive=not r), random_seed, seed,
                           api_visibility="private", queue=False, show_progress="hidden")
        trim.change(lambda t: (gr.update(interactive=t), gr.update(interactive=t)), trim, [start, end],
                    api_visibility="private", queue=False, show_progress="hidden")
        demo.load(lambda: (gr.update(interactive=False),) * 3, None, [start, end, seed],
                  api_visibility="private", queue=False, show_progress="hidden")
        run_btn.click(generate, [video_in, prompt, negative, steps, guidance, seed, random_seed,
                                 ref_audio, ref_start, trim, start, end],
                      [video_out, audio_out, spec, timings, seed_used], api_name="generate").success(
            sync_view.sync_view_or_none, [video_out, audio_out], sync_img, api_visibility="private",
            show_progress="hidden")
        cmp_btn.click(compare_steps, [video_in, prompt, negative, guidance, seed, random_seed, trim, start, end],
                      [*cmp_outs, cmp_summary], api_name="compare_steps")

    demo.queue(default_concurrency_limit=settings.concurrency_limit, max_size=settings.queue_max_size)
    return demo


def warmup(pipeline: Pipeline, settings: DemoSettings | None = None) -> float:
    """Compiles the jitted paths and runs one short request with its sync view (loading
    matplotlib and the onset metrics' scipy) before the first visitor; seconds taken."""
    settings = settings or DemoSettings()
    t0 = time.perf_counter()
    pipeline.warmup()              # the sampler's step count is dynamic: one compile serves 1..64
    with tempfile.TemporaryDirectory(prefix="salsav-warmup-") as d:
        video = make_test_video(os.path.join(d, "warmup.mp4"), settings.warmup_seconds)
        req = service.build_request(settings, video, "", "", settings.default_steps,
                                    settings.default_guidance, 0, False, None, 0.0, False, 0.0, 0.0)
        out = service.run_request(pipeline, req, d, out_name="warmup-out")   # features, decode, mux, plot
        sync_view.sync_view_for(out.video_path, out.audio_path)   # the onset metrics' scipy imports
    return time.perf_counter() - t0


def warmup_in_background(pipeline: Pipeline, settings: DemoSettings | None = None) -> threading.Thread:
    """`warmup` in a thread, so that the server answers at once; demo requests wait until it
    has finished (`WARM`), so that nothing compiles twice. A failed warm-up is logged; the
    requests then compile what they need themselves."""
    WARM.clear()

    def run():
        try:
            log.info("warm-up (compiling) took %.1f s", warmup(pipeline, settings))
        except Exception:   # noqa: BLE001 - the demo still works, only its first request is slower
            log.exception("warm-up failed")
        finally:
            WARM.set()

    t = threading.Thread(target=run, name="salsav-warmup", daemon=True)
    t.start()
    return t


def launch_kwargs(settings: DemoSettings | None = None) -> dict:
    """Keyword arguments for `demo.launch(...)` / `gr.mount_gradio_app(...)`."""
    settings = settings or DemoSettings()
    return dict(max_file_size=settings.max_file_size, css=CSS, theme=gr.themes.Soft(),
                footer_links=["api"])


def mount_demo(app, pipeline: Pipeline, settings: DemoSettings | None = None, path: str = "/"):
    """Mounts the demo on a FastAPI app (the root `app.py` uses this)."""
    settings = settings or DemoSettings()
    return gr.mount_gradio_app(app, build_demo(pipeline, settings), path=path, **launch_kwargs(settings))
