"""Media requests on the hot path: the file behind a media token and its first fetch logged, in
prebuilt Core statements and one transaction (what `listening.media_lookup` + `log_fetch` do
through the ORM in two sessions), and the byte-range answer shared by both paths.

A trial page fetches its video and every track once per trial (a browser may fetch the video
again in ranges); each first fetch is logged (`trial_item.fetched_at` and a `fetch` event for a
track, a `fetch` event with no label for the video), which the listening rules require.
"""

from __future__ import annotations

import os
import re

from sqlalchemy import bindparam, exists, select, update
from sqlalchemy.engine import Connection
from starlette.responses import Response

from . import db
from .media import AUDIO_MIME, VIDEO_MIME
from .rawexec import fast

I, T, K, C, E = (db.TrialItem.__table__, db.Trial.__table__, db.Track.__table__, db.Clip.__table__,
                 db.ListenEvent.__table__)
_RANGE = re.compile(r"^bytes=(\d{0,15})-(\d{0,15})$")
_SEEN = exists().where(E.c.trial_id == T.c.id, E.c.label.is_(None))
_TRIAL_LOCK = fast(select(T.c.id).where(T.c.id == bindparam("tid")).with_for_update())   # PostgreSQL
_Q_TRACK = fast(select(I.c.id, I.c.trial_id, I.c.label, I.c.fetched_at, K.c.audio_path)
                .select_from(I.join(K, I.c.track_id == K.c.id)).where(I.c.media_token == bindparam("tok")))
_Q_VIDEO = fast(select(T.c.id, C.c.video_path, _SEEN.label("seen"))
                .select_from(T.join(C, T.c.clip_id == C.c.id)).where(T.c.video_token == bindparam("tok")))
_Q_VIDEO_SEEN = fast(select(_SEEN.label("seen")).select_from(T).where(T.c.id == bindparam("tid")))
_FETCHED = fast(update(I).where(I.c.id == bindparam("b_id"), I.c.fetched_at.is_(None))
                .values(fetched_at=bindparam("b_now")))
_EVENT = fast(E.insert().values(trial_id=bindparam("b_tid"), label=bindparam("b_label"), kind="fetch",
                                at=bindparam("b_now")))


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of the answer: the whole file without a Range header, else the one
    range asked for; None when it cannot be served (416)."""
    start, end = 0, size - 1
    if not header:
        return start, end
    m = _RANGE.match(header.strip())
    if m is None or (m.group(1) == "" and m.group(2) == ""):
        return None
    if m.group(1) == "":                       # suffix range: the last N bytes
        start = max(0, size - int(m.group(2)))
    else:
        start = int(m.group(1))
        end = min(end, int(m.group(2))) if m.group(2) else end
    if start > end or start >= size:
        return None
    return start, end


def file_response(path: str, mime: str, size: int, span: tuple[int, int] | None, ranged: bool) -> Response:
    """The file's bytes (or the one byte range asked for), with no validators (ETag,
    Last-Modified) and no file name; one MIME type per kind of media."""
    if span is None:
        return Response(status_code=416, headers={"Content-Range": f"bytes */{size}"})
    start, end = span
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
    if ranged:
        headers["Content-Range"] = f"bytes {start}-{end}/{size}"
    with open(path, "rb") as f:
        f.seek(start)
        body = f.read(end - start + 1)
    return Response(body, status_code=206 if ranged else 200, media_type=mime, headers=headers)


def fetch(conn: Connection, media_token: str, range_header: str | None):
    """(path, mime, size, span) of a media token, its first served fetch logged (use a write
    connection); None for an unknown token or a missing file. `span` is None for a range that
    cannot be served (416), which is not logged as a fetch."""
    row = conn.execute(_Q_TRACK, {"tok": media_token}).first()
    if row is not None:
        path, mime, tid, label, logged = row.audio_path, AUDIO_MIME, row.trial_id, row.label, row.fetched_at is not None
    else:
        row = conn.execute(_Q_VIDEO, {"tok": media_token}).first()
        if row is None:
            return None
        path, mime, tid, label, logged = row.video_path, VIDEO_MIME, row.id, None, bool(row.seen)
    if not os.path.isfile(path):
        return None
    size = os.path.getsize(path)
    span = parse_range(range_header, size)
    if span is not None and not logged:
        now = db.utcnow()
        if label is not None:
            if conn.execute(_FETCHED, {"b_id": row.id, "b_now": now}).rowcount == 1:
                conn.execute(_EVENT, {"b_tid": tid, "b_label": label, "b_now": now})
        else:
            if conn.dialect.name == "postgresql":      # one video log per trial across workers
                conn.execute(_TRIAL_LOCK, {"tid": tid})
                logged = bool(conn.execute(_Q_VIDEO_SEEN, {"tid": tid}).scalar())
            if not logged:
                conn.execute(_EVENT, {"b_tid": tid, "b_label": None, "b_now": now})
    return path, mime, size, span
