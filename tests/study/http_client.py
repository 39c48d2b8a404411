"""A small HTTP/1.1 keep-alive client on asyncio streams, for load generation.

A load generator shares the CPU with the server it measures (here: the same 2 cores), so it
must cost little: httpx.AsyncClient spent about 5.4 ms of CPU a request on this machine, this
about a tenth of that. It speaks just what the study server needs: one connection per client
(a participant's requests are sequential), Content-Length or chunked bodies, query strings,
JSON and form bodies. Transport failures raise `Unreachable`.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
from urllib.parse import urlencode, urlsplit


class Unreachable(Exception):
    """No answer: refused, reset, closed mid-response or timed out."""


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status_code, self.headers, self.content = status, headers, body
        self.extensions: dict = {}

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self):
        return jsonlib.loads(self.content)


class HttpClient:
    def __init__(self, base_url: str, timeout: float = 60.0):
        u = urlsplit(base_url)
        self.host, self.port, self.timeout = u.hostname, u.port or 80, timeout
        self._rw: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._rw is not None:
            self._rw[1].close()
            self._rw = None

    async def request(self, method: str, path: str, *, params: dict | None = None, json=None,
                      data: dict | None = None, headers: dict | None = None) -> Response:
        target = path + ("?" + urlencode(params) if params else "")
        body, head = b"", {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if json is not None:
            body, head["Content-Type"] = jsonlib.dumps(json).encode(), "application/json"
        elif data is not None:
            body, head["Content-Type"] = urlencode(data).encode(), "application/x-www-form-urlencoded"
        if body or method in ("POST", "PUT"):
            head["Content-Length"] = str(len(body))
        raw = (f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in head.items())
               + "\r\n").encode() + body
        for attempt in (0, 1):
            reused = self._rw is not None
            try:
                return await asyncio.wait_for(self._roundtrip(raw, method), self.timeout)
            except (OSError, asyncio.IncompleteReadError, asyncio.TimeoutError, _Closed) as e:
                await self.aclose()
                # an idle keep-alive connection the server closed: send once more on a new one
                if not (reused and attempt == 0 and isinstance(e, (_Closed, ConnectionResetError, BrokenPipeError))):
                    raise Unreachable(f"{type(e).__name__} {e}") from None
        raise AssertionError("unreachable")

    async def _roundtrip(self, raw: bytes, method: str) -> Response:
        if self._rw is None:
            self._rw = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._rw
        writer.write(raw)
        await writer.drain()
        status_line = await reader.readline()
        if not status_line:
            raise _Closed("connection closed")
        status = int(status_line.split(b" ", 2)[1])
        headers: dict[str, str] = {}
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            k, _, v = line.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            body = b""
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    break
                chunks.append(await reader.readexactly(size))
                await reader.readline()
            body = b"".join(chunks)
        elif "content-length" in headers:
            body = await reader.readexactly(int(headers["content-length"]))
        else:
            body = await reader.read()
            headers["connection"] = "close"
        if headers.get("connection", "").lower() == "close":
            await self.aclose()
        return Response(status, headers, body)


class _Closed(Exception):
    pass
