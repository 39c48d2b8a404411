"""The requests a trial page sends most, answered below FastAPI: play reports, score saves (a
click and the final one) and media fetches.

`HotRoutes` is ASGI middleware inside `pages.StudySecurity` (so the body limit and the security
headers apply as to every study route). For exactly these requests it matches the path itself,
reads the JSON body with orjson and checks it against the same limits as the API's pydantic
models (`study.api_models`), runs `study.hotpath` / `study.hotmedia` (on the event loop for
SQLite in one process, else in the thread pool) and answers: no routing through every route's regex,
no dependency solving, no pydantic. A request it does not accept exactly as well formed (another
method, a token or trial id of the wrong shape, a body that is not JSON, an unknown field, a
value of the wrong type or out of range, a Content-Type other than JSON) goes on, with its body,
to the FastAPI routes in `study.web`, which answer it as they always have: the same 4xx statuses
and short messages that never repeat input. Errors of the study's rules are answered here like
`pages.StudyRoute` answers them (`{"error": message}` with the error's status); anything else
is a plain 500 without a traceback. tests/study/test_study_fastroutes.py sends the same requests both ways.
"""

from __future__ import annotations

import re

import anyio.to_thread

from . import db, hotmedia, hotpath, rawexec
from .errors import BodyTooLarge, StudyError
from .pages import json_answer, log
from .rules import KINDS

try:
    from orjson import loads as _loads
except ImportError:  # pragma: no cover
    from json import loads as _loads

_TOKEN, _PUBLIC = r"([A-Za-z0-9_-]{8,64})", r"([A-Za-z0-9_-]{8,40})"   # api_models.Token, PublicId
_LABEL = re.compile(r"[A-H]")                                           # api_models.Label
_AXIS = re.compile(r"[A-Za-z0-9_-]{1,40}")                              # api_models.AxisKey
MAX_LABELS, MAX_AXES, MAX_SCORE = 8, 16, 100                            # api_models' limits
_LISTEN_FIELDS = frozenset({"kind", "label", "seconds", "started"})
_RATINGS_FIELDS = frozenset({"ratings", "complete"})
_SAVED = {"saved": True}
_INTERNAL = "internal error; your answers so far are saved"


def _object(raw: bytes) -> dict | None:
    try:
        d = _loads(raw)
    except ValueError:
        return None
    return d if type(d) is dict else None


def listen_body(raw: bytes) -> tuple[str, str, float, bool] | None:
    """(kind, label, seconds, started) of a well-formed play report (api_models.ListenBody), else None."""
    d = _object(raw)
    if d is None or not d.keys() <= _LISTEN_FIELDS:
        return None
    kind, label, seconds, started = d.get("kind"), d.get("label"), d.get("seconds", 0.0), d.get("started", False)
    if type(kind) is not str or kind not in KINDS or type(label) is not str or not _LABEL.fullmatch(label):
        return None
    if type(seconds) not in (int, float) or not 0.0 <= seconds <= 60.0 or type(started) is not bool:
        return None                            # (NaN fails the range; JSON has no inf)
    return kind, label, float(seconds), started


def ratings_body(raw: bytes) -> tuple[dict, bool] | None:
    """(ratings, complete) of a well-formed save (api_models.RatingsBody), else None."""
    d = _object(raw)
    if d is None or not d.keys() <= _RATINGS_FIELDS:
        return None
    ratings, complete = d.get("ratings", {}), d.get("complete", True)
    if type(complete) is not bool or type(ratings) is not dict or len(ratings) > MAX_LABELS:
        return None
    for label, by_axis in ratings.items():
        if not _LABEL.fullmatch(label) or type(by_axis) is not dict or len(by_axis) > MAX_AXES:
            return None
        for axis, score in by_axis.items():
            if not _AXIS.fullmatch(axis) or type(score) is not int or not -MAX_SCORE <= score <= MAX_SCORE:
                return None
    return ratings, complete


def _json_content(scope) -> bool:
    """FastAPI reads a body as JSON when it has no Content-Type or a JSON one; the rest goes on."""
    for k, v in scope["headers"]:
        if k == b"content-type":
            return v.split(b";", 1)[0].strip().lower() == b"application/json"
    return True


def _header(scope, name: bytes) -> str | None:
    for k, v in scope["headers"]:
        if k == name:
            return v.decode("latin-1")
    return None


class _Disconnected(Exception):
    pass


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()              # StudySecurity's receive raises BodyTooLarge
        if message["type"] == "http.disconnect":
            raise _Disconnected
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive):
    sent = False

    async def again():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()
    return again


def error(status: int, message: str):
    return json_answer({"error": message}, status)


class HotRoutes:
    """ASGI middleware: the hot routes of `study` (a web.StudyApp) answered directly (module docstring)."""

    def __init__(self, app, study):
        self.app, self.engine = app, study.engine
        # SQLite in one process (StudySettings.db_on_loop): one writer at a time and commits without
        # fsync (WAL, synchronous=NORMAL), each a millisecond or so: run on the event loop, which
        # saves the thread hand-off (0.4-0.9 ms of CPU a request over HTTP, measured; the GIL passed
        # between the loop and the pool's threads). PostgreSQL (commits wait for the WAL's fsync,
        # row locks) and several processes on one SQLite file: the thread pool.
        self.inline = study.db_on_loop
        pre = study.settings.prefix
        self.prefix, self.media_prefix = pre + "/", pre + "/media/"
        self.api = re.compile(re.escape(pre) + "/api/" + _TOKEN + "/trials/" + _PUBLIC + "/(listen|ratings)")
        self.media = re.compile(re.escape(pre) + "/media/" + _TOKEN)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            method = scope["method"]
            if method == "POST" and _json_content(scope):
                m = self.api.fullmatch(scope["path"])
                if m is not None:
                    return await self._api(scope, receive, send, *m.groups())
            elif method == "GET":
                m = self.media.fullmatch(scope["path"])
                if m is not None:
                    return await self._answer(scope, receive, send, self._media(m.group(1), _header(scope, b"range")))
        return await self.app(scope, receive, send)

    async def _api(self, scope, receive, send, token: str, trial_id: str, what: str):
        try:
            body = await _read_body(receive)
        except BodyTooLarge as e:
            return await error(e.status, str(e))(scope, receive, send)
        except _Disconnected:
            return
        parsed = listen_body(body) if what == "listen" else ratings_body(body)
        if parsed is None:                     # not exactly well formed: the FastAPI route answers
            return await self.app(scope, _replay(body, receive), send)
        work = self._listen(token, trial_id, *parsed) if what == "listen" else self._rate(token, trial_id, *parsed)
        await self._answer(scope, receive, send, work)

    async def _answer(self, scope, receive, send, work):
        try:
            resp = work() if self.inline else await anyio.to_thread.run_sync(work)
        except StudyError as e:
            resp = error(e.status, str(e))
        except Exception:
            log.exception("study hot route failed")
            resp = error(500, _INTERNAL)
        await resp(scope, receive, send)

    # A click save, a play report and a media fetch use registered statements only: they run in
    # a bare DB-API transaction (study.rawexec). The final save completes the participant with
    # RETURNING, which stays with SQLAlchemy: a Core write connection.
    def _listen(self, token, trial_id, kind, label, seconds, started):
        def work():
            with rawexec.transaction(self.engine) as c:
                return json_answer(hotpath.listen_report(c, token, trial_id, kind, label, seconds, started))
        return work

    def _rate(self, token, trial_id, ratings, complete):
        def work():
            if not complete:
                with rawexec.transaction(self.engine) as c:
                    hotpath.save_click(c, token, trial_id, ratings)
                return json_answer(_SAVED)
            with db.write_connection(self.engine) as c:
                hotpath.complete_trial(c, token, trial_id, ratings)   # the save and the next state:
                return json_answer(hotpath.trial_state(c, token, media_prefix=self.media_prefix))   # one transaction
        return work

    def _media(self, media_token: str, range_header: str | None):
        def work():
            with rawexec.transaction(self.engine) as c:
                found = hotmedia.fetch(c, media_token, range_header)
            if found is None:
                return error(404, "not found")
            path, mime, size, span = found
            return hotmedia.file_response(path, mime, size, span, bool(range_header))
        return work
