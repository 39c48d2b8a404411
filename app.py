"""One process serves everything: the demo at `/`, the listening study at `/study`, the admin at
`/admin` (the way a Hugging Face Space runs it).

    python app.py                      # bundled checkpoint, ./salsav.db, http://127.0.0.1:7860
    python app.py --db sqlite:///study.db --port 8000 --host 0.0.0.0
    SALSAV_ADMIN_PASSWORD=... python app.py     # enables /admin

On first start with an empty database the bundled demo study (`studies/demo`, tracks made by
`python -m study build` from the example clips) is loaded, so `/study` works out of the box.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")      # nothing is downloaded at run time

ROOT = Path(__file__).resolve().parent
DEMO_STUDY = ROOT / "studies" / "demo" / "manifest.yaml"
log = logging.getLogger("salsav.app")


def ensure_demo_study(db_url: str, manifest: Path = DEMO_STUDY) -> int | None:
    """Load the bundled demo study into a database that has none; returns its id (or None)."""
    from sqlalchemy import func, select

    from study import db
    from study.manifest import load_manifest
    engine = db.make_engine(db_url)
    with db.read_session(engine) as s:
        if s.scalar(select(func.count()).select_from(db.Study)):
            return None
    if not manifest.exists():
        return None
    derived = Path(os.environ.get("SALSAV_DERIVED_DIR", ROOT / "studies" / "demo" / "_derived"))
    return load_manifest(engine, manifest, derived_dir=derived)


def create_app(checkpoint: str | None = None, db_url: str = "sqlite:///salsav.db",
               demo_settings: str = "default", warm: bool = True, demo_study: bool = True):
    """FastAPI app: study + admin routes first, then the Gradio demo mounted at `/`."""
    from fastapi import FastAPI

    import webapp
    from salsav_core.pipeline import DEFAULT_CHECKPOINT, Pipeline
    from study.settings import StudySettings
    from study.web import mount as mount_study

    settings = webapp.settings_preset(demo_settings,
                                      **({"checkpoint": checkpoint} if checkpoint else {}))
    if demo_study:
        try:
            if ensure_demo_study(db_url) is not None:
                log.info("loaded the demo study into %s", db_url)
        except Exception as e:   # the demo keeps working without a study
            log.warning("demo study not loaded: %s", e)
    from salsav_core.runtime import enable_compile_cache
    enable_compile_cache()          # warm-up reuses programs compiled by earlier runs
    t0 = time.perf_counter()
    pipe = Pipeline.from_pretrained(checkpoint or settings.checkpoint or DEFAULT_CHECKPOINT)
    log.info("checkpoint loaded in %.1f s", time.perf_counter() - t0)
    if warm:
        log.info("warm-up (compiling) took %.1f s", webapp.warmup(pipe, settings))
    app = FastAPI(title="salsav", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.study = mount_study(app, StudySettings(db_url=db_url))
    webapp.mount_demo(app, pipe, settings, path="/")
    return app


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default=os.environ.get("SALSAV_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("SALSAV_PORT", 7860)))
    p.add_argument("--checkpoint", default=os.environ.get("SALSAV_CHECKPOINT"),
                   help="checkpoint folder or Hub repo id (default: the bundled one)")
    p.add_argument("--db", default=os.environ.get("SALSAV_DB", "sqlite:///salsav.db"),
                   help="SQLAlchemy URL of the study database")
    p.add_argument("--demo-settings", default="default", help="webapp settings preset")
    p.add_argument("--no-warmup", action="store_true", help="skip compiling at start-up")
    p.add_argument("--no-demo-study", action="store_true", help="do not load the bundled demo study")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)   # "no TPU" noise
    # ffmpeg runs through subprocess (fork + immediate exec), which is safe beside JAX threads.
    warnings.filterwarnings("ignore", message=r"os\.fork\(\) was called", category=RuntimeWarning)
    import uvicorn
    app = create_app(a.checkpoint, a.db, a.demo_settings, warm=not a.no_warmup,
                     demo_study=not a.no_demo_study)
    print(f"salsav: demo http://{a.host}:{a.port}/  study http://{a.host}:{a.port}/study  "
          f"admin http://{a.host}:{a.port}/admin", flush=True)
    uvicorn.run(app, host=a.host, port=a.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
