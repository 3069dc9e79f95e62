"""ASGI middleware at the gateway's edge: body size, JSON bodies, UTF-8 paths, last resort."""

from __future__ import annotations

import logging
import urllib.parse

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._errors import InvalidRequest, PayloadTooLarge
from . import errors

logger = logging.getLogger("livecue.gateway")


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with 413, before they are read whole."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        buffered: list[Message] = []
        if declared is None:
            # No Content-Length (chunked): read the body here, up to the limit, before the app
            # runs. Raised from inside FastAPI's body parsing, _TooLarge would become a 400.
            while True:
                message = await receive()
                buffered.append(message)
                if message["type"] != "http.request":
                    break
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    await self._refuse(scope, receive, send)
                    return
                if not message.get("more_body", False):
                    break

        async def counted() -> Message:
            nonlocal seen
            if buffered:
                return buffered.pop(0)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise _TooLarge
            return message

        try:
            await self.app(scope, counted, send)
        except _TooLarge:
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = errors.answer(PayloadTooLarge(f"request body over {self.max_bytes} bytes"))
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


class JsonApi:
    """The API's edge: bodies are JSON whatever their Content-Type, paths valid UTF-8.

    The API takes only JSON, so whatever a client declares — ``curl -d`` sends
    ``application/x-www-form-urlencoded``, a browser's ``fetch`` of a string
    ``text/plain``, some clients nothing — the body is read as JSON. A path whose
    percent-encoded bytes are not UTF-8 (a room name, say) is refused here, before
    the server's decoding would quietly turn them into replacement characters.
    """

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefixes):
            await self.app(scope, receive, send)
            return
        raw = scope.get("raw_path") or scope["path"].encode()
        try:
            urllib.parse.unquote_to_bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            error = InvalidRequest("the request path is not valid UTF-8 once percent-decoded")
            await errors.answer(error)(scope, receive, send)
            return
        headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
        scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)


class Unexpected:
    """An error no handler knew: answered 500 in JSON, logged — and the connection kept.

    (Left to the server, an unhandled error also closes the client's connection.)
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception:
            logger.exception("unexpected error", extra={"path": scope.get("path")})
            if started:
                raise
            body = errors.error_body("internal_error", "an unexpected error; it is logged")
            await JSONResponse(body, 500)(scope, receive, send)
