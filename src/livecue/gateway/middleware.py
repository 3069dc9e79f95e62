"""ASGI middleware at the gateway's edge: body size, and JSON bodies sent without saying so."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._errors import PayloadTooLarge
from . import errors


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


class JsonByDefault:
    """Read the body of API requests as JSON when the client did not say it was JSON.

    ``curl -d '{...}'`` sends ``application/x-www-form-urlencoded``, and many clients send
    no Content-Type at all; the API takes only JSON, so either means JSON here.
    """

    _AS_JSON = (b"", b"application/x-www-form-urlencoded")

    def __init__(self, app: ASGIApp, prefixes: tuple[str, ...]) -> None:
        self.app = app
        self.prefixes = prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefixes):
            headers = [(k, v) for k, v in scope["headers"] if k != b"content-type"]
            declared = dict(scope["headers"]).get(b"content-type", b"")
            if declared.split(b";")[0].strip().lower() in self._AS_JSON:
                scope = {**scope, "headers": [*headers, (b"content-type", b"application/json")]}
        await self.app(scope, receive, send)
