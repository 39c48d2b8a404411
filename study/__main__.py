"""Command line: python -m study {create,import,export,serve,upgrade,build} ..."""

from __future__ import annotations

import argparse
import sys

from . import db, migrations, service
from .build import BuildError
from .importer import FolderImportError, import_systems, parse_system_args
from .manifest import ManifestError, check_manifest, load_manifest
from .media import MediaError


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m study", description="salsav listening-study platform")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create", help="validate a manifest, normalise its media and load it as a study")
    c.add_argument("manifest")
    c.add_argument("--db", default="sqlite:///study.db", help="SQLAlchemy URL (default sqlite:///study.db)")
    c.add_argument("--derived-dir", default=None, help="where the normalised media are written "
                   "(default: _derived/ beside the manifest)")
    c.add_argument("--check", action="store_true", help="validate and convert in a scratch folder, store nothing")
    i = sub.add_parser("import", help="write a manifest from one folder per system (files named by clip)")
    i.add_argument("--name", required=True, help="the study's unique name")
    i.add_argument("--videos", required=True, help="folder of videos; a clip's name is its file name")
    i.add_argument("--system", action="append", default=[], metavar="NAME=FOLDER",
                   help="a system and the folder of its outputs (repeat for each system)")
    i.add_argument("--out", required=True, help="folder for manifest.yaml (and, with --create, _derived/)")
    i.add_argument("--trials", type=int, default=None, help="trials per participant (default min(10, clips))")
    i.add_argument("--skip-incomplete", action="store_true", help="leave out clips a system has no file for")
    i.add_argument("--no-loudness", action="store_true", help="do not loudness-normalise the tracks")
    i.add_argument("--min-listen", type=float, default=None, help="seconds each track must play before rating")
    i.add_argument("--create", action="store_true", help="also create the study in --db")
    i.add_argument("--db", default="sqlite:///study.db")
    e = sub.add_parser("export", help="export ratings in long format (.csv or .parquet)")
    e.add_argument("--db", default="sqlite:///study.db")
    e.add_argument("--out", required=True)
    e.add_argument("--study", default=None, help="name or id (default: newest)")
    e.add_argument("--listening", default=None, help="also write the raw listening log here (.csv / .parquet)")
    s = sub.add_parser("serve", help="serve /study and /admin only (uvicorn)")
    s.add_argument("--db", default="sqlite:///study.db")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=7861)
    s.add_argument("--study", default=None)
    s.add_argument("--workers", type=int, default=1,
                   help="worker processes (several need a shared database server: PostgreSQL)")
    u = sub.add_parser("upgrade", help="create or upgrade a database's schema (Alembic migrations)")
    u.add_argument("--db", default="sqlite:///study.db")
    b = sub.add_parser("build", help="generate tracks for model variants and write a manifest")
    b.add_argument("--config", required=True)
    return ap


def _create(manifest: str, url: str, derived: str | None) -> None:
    warnings: list[str] = []
    sid = load_manifest(db.make_engine(url), manifest, derived, warnings=warnings)
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"created study id {sid} in {url}")


def main(argv: list[str] | None = None) -> int:
    a = _parser().parse_args(argv)
    try:
        if a.cmd == "create" and a.check:
            m, warnings = check_manifest(a.manifest)
            for w in warnings:
                print(f"warning: {w}", file=sys.stderr)
            print(f"ok: {m.name}: {len(m.clips)} clips x {len(m.systems)} systems")
        elif a.cmd == "create":
            _create(a.manifest, a.db, a.derived_dir)
        elif a.cmd == "import":
            extra = {"media": {"loudness": None}} if a.no_loudness else {}
            if a.trials:
                extra["trials_per_participant"] = a.trials
            if a.min_listen is not None:
                extra["min_listen_s"] = a.min_listen
            path = import_systems(a.name, a.videos, parse_system_args(a.system), a.out, a.skip_incomplete, extra)
            print(f"wrote {path}")
            if a.create:
                _create(str(path), a.db, None)
        elif a.cmd == "export":
            engine = db.make_engine(a.db, create=False)
            with db.read_session(engine) as sess:
                df = service.export_ratings(sess, a.study)
                log = service.export_listening(sess, a.study) if a.listening else None
            service.write_export(df, a.out)
            print(f"wrote {len(df)} scores to {a.out}")
            if log is not None:
                service.write_export(log, a.listening)
                print(f"wrote {len(log)} listening events to {a.listening}")
        elif a.cmd == "serve":
            from .serving import serve  # lazy: only the server needs uvicorn
            serve(a.db, host=a.host, port=a.port, workers=a.workers, study=a.study)
        elif a.cmd == "upgrade":
            engine = db.make_engine(a.db, upgrade=True)
            print(f"{engine.url.render_as_string(hide_password=True)}: study schema at revision "
                  f"{migrations.current_revision(engine)} (schema version {db.SCHEMA_VERSION})")
        elif a.cmd == "build":
            from .build import build
            path = build(a.config)
            print(f"wrote {path}; load it with: python -m study create {path} --db URL")
    except (ManifestError, FolderImportError, BuildError, MediaError, service.StudyError,
            db.SchemaMismatchError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
