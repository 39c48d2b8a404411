"""What the study and admin routes share: templates, the one error handler, security headers.

- `render(name, **ctx)`: a Jinja2 template from study/templates (autoescaped).
- `StudyRoute`: the route class of every study and admin route. It turns any StudyError,
  validation error or HTTPException into a short 4xx answer (JSON for the API and media,
  an HTML page otherwise) that never repeats what the request sent, and anything else into a
  plain 500 without a traceback; so no route needs its own `except`.
- `StudySecurity`: ASGI middleware for the study and admin paths: a request body limit
  (413 before the body is read when Content-Length is too big, and while streaming), and
  security headers on every answer (CSP with frame-ancestors 'none', Referrer-Policy
  no-referrer, nosniff, X-Frame-Options, Cross-Origin-Opener-Policy).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Callable

import jinja2
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException  # FastAPI's own HTTPException derives from it

from .errors import BodyTooLarge, StudyError

try:
    from orjson import dumps as _json_bytes   # installed with gradio
except ImportError:  # pragma: no cover
    def _json_bytes(obj) -> bytes:
        return json.dumps(obj, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()

HERE = Path(__file__).parent
log = logging.getLogger("salsav.study")
_ENV = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                          autoescape=jinja2.select_autoescape(["html"]))
MAX_BODY_BYTES = 16 * 1024
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "form-action 'self'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-content-type-options", b"nosniff"),
    (b"cross-origin-opener-policy", b"same-origin"),
]
_STATUS_TEXT = {400: "bad request", 401: "authentication required", 403: "forbidden", 404: "not found",
                405: "method not allowed", 413: "request body too large", 422: "invalid request"}


def render(name: str, status: int = 200, **ctx) -> HTMLResponse:
    return HTMLResponse(_ENV.get_template(name).render(**ctx), status_code=status)


def json_answer(obj: dict, status: int = 200) -> Response:
    """A JSON answer encoded here (orjson; the same bytes as JSONResponse for the plain dicts
    the API returns). FastAPI passes a Response through untouched, so the API's routes skip its
    `jsonable_encoder` walk over the dict and the stdlib encoder."""
    return Response(_json_bytes(obj), status_code=status, media_type="application/json")


def wants_json(request: Request) -> bool:
    path = request.url.path
    return "/api/" in path or "/media/" in path or "application/json" in request.headers.get("accept", "")


def error_response(request: Request, status: int, message: str, headers: dict | None = None) -> Response:
    """A short error answer: {"error": message} for the API, the error page otherwise."""
    if wants_json(request):
        return JSONResponse({"error": message}, status_code=status, headers=headers)
    resp = render("error.html", status=status, title="Listening study", message=message)
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


# the names of the API's own fields: only these are named in an error message
KNOWN_FIELDS = frozenset({
    "ratings", "complete", "kind", "label", "seconds", "started", "consent", "study", "external_id",
    "external_study_id",
    "external_session_id", "token", "trial_id", "media_token", "study_id", "agree", "PROLIFIC_PID", "STUDY_ID",
    "SESSION_ID", "csrf", "excluded", "reason", "closed", "max_participants", "participant_id", "what", "fmt"})


def validation_message(err: RequestValidationError) -> str:
    """Which fields were wrong, by the API's own names only (keys and values a request sent
    are never repeated)."""
    fields = set()
    for e in err.errors():
        loc = [x for x in e.get("loc", ()) if isinstance(x, str)]
        if e.get("type") == "extra_forbidden":
            fields.add("an unknown field")
        elif len(loc) > 1 and loc[1] in KNOWN_FIELDS:
            fields.add(loc[1])
        else:
            fields.add("the request body" if loc[:1] == ["body"] else "the request")
    return "invalid request: check " + ", ".join(sorted(fields))


class StudyRoute(APIRoute):
    """The one exception handler of the study and admin routes (see the module docstring)."""

    def get_route_handler(self) -> Callable:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                return await original(request)
            except StudyError as e:
                return error_response(request, e.status, str(e))
            except RequestValidationError as e:
                return error_response(request, 422, validation_message(e))
            except HTTPException as e:
                if isinstance(e.__cause__, StudyError):  # e.g. BodyTooLarge while the body was read
                    return error_response(request, e.__cause__.status, str(e.__cause__))
                msg = e.detail if isinstance(e.detail, str) else _STATUS_TEXT.get(e.status_code, "request refused")
                return error_response(request, e.status_code, msg, e.headers)
            except Exception:
                log.exception("study route %s failed", self.path)
                return error_response(request, 500, "internal error; your answers so far are saved")
        return handler


class StudySecurity:
    """ASGI middleware: body size limit and security headers for paths under `prefixes`."""

    def __init__(self, app, prefixes: tuple[str, ...], max_body: int = MAX_BODY_BYTES):
        self.app, self.prefixes, self.max_body = app, tuple(prefixes), max_body

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            return await self.app(scope, receive, send)

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in names]
            await send(message)

        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            resp = JSONResponse({"error": _STATUS_TEXT[413]}, status_code=413)
            return await resp(scope, receive, send_with_headers)
        seen = 0

        async def limited_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_body:
                    raise BodyTooLarge(_STATUS_TEXT[413])
            return message

        await self.app(scope, limited_receive, send_with_headers)
