"""Command line: python -m study {create,export,serve,upgrade,build} ..."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m study", description="salsav listening-study platform")
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("create", help="validate a manifest with its media and load it as a study")
    c.add_argument("manifest")
    c.add_argument("--db", default="sqlite:///study.db", help="SQLAlchemy URL (default sqlite:///study.db)")
    c.add_argument("--derived-dir", default=None, help="where offset attention-check tracks are written")
    c.add_argument("--check", action="store_true", help="validate only, store nothing")
    e = sub.add_parser("export", help="export ratings in long format (.csv or .parquet)")
    e.add_argument("--db", default="sqlite:///study.db")
    e.add_argument("--out", required=True)
    e.add_argument("--study", default=None, help="name or id (default: newest)")
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
    a = ap.parse_args(argv)

    from . import db, migrations, service
    from .manifest import ManifestError, load_manifest, parse_manifest, validate_media

    try:
        if a.cmd == "create":
            if a.check:
                m = parse_manifest(a.manifest)
                validate_media(m)
                print(f"ok: {m.name}: {len(m.clips)} clips x {len(m.systems)} systems")
                return 0
            engine = db.make_engine(a.db)
            sid = load_manifest(engine, a.manifest, a.derived_dir)
            print(f"created study id {sid} in {a.db}")
        elif a.cmd == "export":
            engine = db.make_engine(a.db, create=False)
            with db.read_session(engine) as sess:
                df = service.export_ratings(sess, a.study)
            service.write_export(df, a.out)
            print(f"wrote {len(df)} scores to {a.out}")
        elif a.cmd == "serve":
            from .serving import serve
            serve(a.db, host=a.host, port=a.port, workers=a.workers, study=a.study)
        elif a.cmd == "upgrade":
            engine = db.make_engine(a.db, upgrade=True)
            print(f"{engine.url.render_as_string(hide_password=True)}: study schema at revision "
                  f"{migrations.current_revision(engine)} (schema version {db.SCHEMA_VERSION})")
        elif a.cmd == "build":
            from .build import build
            path = build(a.config)
            print(f"wrote {path}; load it with: python -m study create {path} --db URL")
    except (ManifestError, service.StudyError, db.SchemaMismatchError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
