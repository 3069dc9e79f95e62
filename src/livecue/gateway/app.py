"""``create_app(settings)``: the gateway as an ASGI app. Nothing is built at import time."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from .._livekit import Credentials
from . import errors
from .config import GatewayConfig, Settings, load_config
from .routes import cues, hooks, livekit_webhook, ops, rooms
from .runtime import Gateway


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
            await self._refuse(send)
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
                    await self._refuse(send)
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
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        error = errors.PayloadTooLarge(f"request body over {self.max_bytes} bytes")
        body = json.dumps(errors.error_body(error.code, error.message)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": error.status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def create_app(
    settings: Settings | None = None,
    *,
    config: GatewayConfig | None = None,
    credentials: Credentials | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """Build the gateway app; its lifespan opens the store and starts the dispatcher."""
    settings = settings or Settings()
    config = config if config is not None else load_config(settings.config)
    gateway = Gateway(settings, config, credentials or Credentials.from_env(), clock=clock)
    app = FastAPI(
        title="livecue gateway",
        version=__version__,
        description="Turns API calls, webhooks and schedules into cues for LiveKit agents.",
        lifespan=gateway.lifespan,
    )
    app.state.gateway = gateway
    errors.install(app)
    for router in (cues.router, rooms.router, hooks.router, livekit_webhook.router, ops.router):
        app.include_router(router)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
