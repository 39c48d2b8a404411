"""Reading ratings from a study database through the study platform's own export."""
from __future__ import annotations

import os

import pandas as pd

from analysis.errors import EmptyRatingsError, RatingsError


def read_study_ratings(url: str, study=None) -> pd.DataFrame:
    """`study.service.export_ratings` for one study of the database at `url` (long format).

    `study` is an id or a name; None takes the only (newest) study. The returned frame's
    attrs carry the study's defined systems and axes (so a system without ratings is seen).
    """
    from study import db, service

    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        path = url[len("sqlite:///"):]
        if not os.path.exists(path):
            raise FileNotFoundError(f"study database not found: {path}")
    try:
        engine = db.make_engine(url, create=False)
    except db.SchemaMismatchError as e:
        raise RatingsError(str(e)) from e
    try:
        with db.read_session(engine) as s:
            try:
                st = service.get_study(s, study)
            except service.UnknownStudy as e:
                raise EmptyRatingsError(f"{url}: {e}") from e
            df = service.export_ratings(s, st.id)
            systems = [x.name for x in sorted(st.systems, key=lambda x: x.name)]
            axes = [a["key"] for a in st.config.get("axes", [])]
            name = st.name
    finally:
        engine.dispose()
    df.attrs.update({"systems": systems, "axes": axes, "study": name, "source": url})
    if len(df) == 0:
        raise EmptyRatingsError(f"study {name!r} in {url} holds no ratings yet")
    return df
