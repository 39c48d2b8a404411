"""One process serves everything: the demo at `/`, the listening study at `/study`, the admin at
`/admin` (the way a Hugging Face Space runs it).

    python app.py                      # bundled checkpoint, ./salsav.db, http://127.0.0.1:7860
    python app.py --db sqlite:///study.db --port 8000 --host 0.0.0.0
    SALSAV_ADMIN_PASSWORD=... python app.py     # enables /admin

On first start with an empty database the bundled demo study (`studies/demo`, tracks made by
`python -m study build` from the example clips) is loaded, so `/study` works out of the box.

As a Hugging Face Space (the README's front matter: sdk gradio, app_file app.py) it binds the
address and port the Space gives in GRADIO_SERVER_NAME / GRADIO_SERVER_PORT, and with the
Space's persistent storage (/data) it keeps the study database and its tracks there behind a
secure cookie (the study's `space` preset).
"""
from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")   # before gradio is imported
os.environ.setdefault("HF_HUB_OFFLINE", "1")      # nothing is downloaded at run time

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from sqlalchemy import func, select  # noqa: E402

import webapp  # noqa: E402
from salsav_core.pipeline import DEFAULT_CHECKPOINT, Pipeline  # noqa: E402
from salsav_core.runtime import enable_compile_cache  # noqa: E402
from study import db  # noqa: E402
from study.manifest import load_manifest  # noqa: E402
from study.settings import PRESETS as STUDY_PRESETS  # noqa: E402
from study.settings import NO_TELEMETRY, StudySettings  # noqa: E402
from study.web import mount as mount_study  # noqa: E402

ROOT = Path(__file__).resolve().parent
LOCAL_DB = "sqlite:///salsav.db"
DEMO_STUDY = ROOT / "studies" / "demo" / "manifest.yaml"
log = logging.getLogger("salsav.app")


def space_storage(env: Mapping[str, str] = os.environ, data: Path = Path("/data")) -> Path | None:
    """The persistent folder of a Hugging Face Space (SPACE_ID set, /data writable), else None."""
    if env.get("SPACE_ID") and data.is_dir() and os.access(data, os.W_OK):
        return data
    return None


def deployment(db_url: str | None, env: Mapping[str, str] = os.environ,
               data: Path = Path("/data")) -> tuple[StudySettings, Path]:
    """(study settings, folder of the demo study's derived tracks) for where the app runs.

    On a Space with persistent storage: the study's `space` preset (its database in /data,
    secure cookie), tracks in /data too, so a restart keeps both. On a Space without it: a
    secure cookie, the rest local (lost on restart). Elsewhere: ./salsav.db. --db / SALSAV_DB
    and SALSAV_DERIVED_DIR override the database and the tracks folder."""
    derived = ROOT / "studies" / "demo" / "_derived"
    store = space_storage(env, data)
    if store is not None:
        base = dataclasses.replace(STUDY_PRESETS["space"], db_url=f"sqlite:///{store / 'study.db'}")
        derived = store / "studies-derived"
    elif env.get("SPACE_ID"):
        base = dataclasses.replace(STUDY_PRESETS["space"], db_url=LOCAL_DB)
    else:
        base = dataclasses.replace(STUDY_PRESETS["local"], db_url=LOCAL_DB)
    if db_url:
        base = dataclasses.replace(base, db_url=db_url)
    return base, Path(env.get("SALSAV_DERIVED_DIR") or derived)


def ensure_demo_study(db_url: str, manifest: Path = DEMO_STUDY, derived: Path | None = None) -> int | None:
    """Load the bundled demo study into a database that has none; returns its id (or None)."""
    engine = db.make_engine(db_url)
    with db.read_session(engine) as s:
        if s.scalar(select(func.count()).select_from(db.Study)):
            return None
    if not manifest.exists():
        return None
    derived = derived or Path(os.environ.get("SALSAV_DERIVED_DIR", ROOT / "studies" / "demo" / "_derived"))
    return load_manifest(engine, manifest, derived_dir=derived)


def create_app(checkpoint: str | None = None, db_url: str | None = None,
               demo_settings: str = "default", warm: bool = True, demo_study: bool = True,
               env: Mapping[str, str] = os.environ) -> FastAPI:
    """FastAPI app: study + admin routes first, then the Gradio demo mounted at `/`."""
    study_settings, derived = deployment(db_url, env)
    settings = webapp.settings_preset(demo_settings,
                                      **({"checkpoint": checkpoint} if checkpoint else {}))
    if demo_study:
        try:
            if ensure_demo_study(study_settings.db_url, derived=derived) is not None:
                log.info("loaded the demo study into %s", study_settings.db_url)
        except Exception as e:   # noqa: BLE001 - any failure: the demo keeps working without a study
            log.warning("demo study not loaded: %s", e)
    enable_compile_cache()          # warm-up reuses programs compiled by earlier runs
    t0 = time.perf_counter()
    pipe = Pipeline.from_pretrained(checkpoint or settings.checkpoint or DEFAULT_CHECKPOINT)
    log.info("checkpoint loaded in %.1f s", time.perf_counter() - t0)
    app = FastAPI(title="salsav", docs_url=None, redoc_url=None, openapi_url=None,
                  telemetry=NO_TELEMETRY)
    app.state.study = mount_study(app, study_settings)
    webapp.mount_demo(app, pipe, settings, path="/")
    if warm:    # compiles while the server already answers; demo requests wait for it
        app.state.warmup = webapp.warmup_in_background(pipe, settings)
    return app


def build_parser(env: Mapping[str, str] = os.environ) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=env.get("SALSAV_HOST") or env.get("GRADIO_SERVER_NAME") or "127.0.0.1",
                   help="address to bind (env SALSAV_HOST, or GRADIO_SERVER_NAME as a Space sets it)")
    p.add_argument("--port", type=int,
                   default=int(env.get("SALSAV_PORT") or env.get("GRADIO_SERVER_PORT") or 7860),
                   help="port (env SALSAV_PORT, or GRADIO_SERVER_PORT as a Space sets it)")
    p.add_argument("--checkpoint", default=env.get("SALSAV_CHECKPOINT"),
                   help="checkpoint folder or Hub repo id (default: the bundled one)")
    p.add_argument("--db", default=env.get("SALSAV_DB"),
                   help="SQLAlchemy URL of the study database (default: ./salsav.db; on a Space "
                        "with persistent storage /data/study.db)")
    p.add_argument("--demo-settings", default="default",
                   help="demo settings preset (webapp.settings: default, test)")
    p.add_argument("--no-warmup", action="store_true", help="skip the background compile at start-up")
    p.add_argument("--no-demo-study", action="store_true", help="do not load the bundled demo study")
    return p


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)   # "no TPU" noise
    # ffmpeg runs through subprocess (fork + immediate exec), which is safe beside JAX threads.
    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
    app = create_app(a.checkpoint, a.db, a.demo_settings, warm=not a.no_warmup,
                     demo_study=not a.no_demo_study)
    print(f"salsav: demo http://{a.host}:{a.port}/  study http://{a.host}:{a.port}/study  "
          f"admin http://{a.host}:{a.port}/admin", flush=True)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
