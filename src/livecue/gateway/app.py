"""``create_app(settings)``: the gateway as an ASGI app. Nothing is built at import time."""

from __future__ import annotations

import time
from collections.abc import Callable

from fastapi import FastAPI

from .. import __version__
from .._livekit import Credentials
from . import errors
from .config import GatewayConfig, Settings, load_config
from .console import create_console
from .middleware import BodyLimit, JsonApi, Unexpected
from .routes import cues, hooks, keys, livekit_webhook, ops, rooms, schedules
from .runtime import Gateway


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
    for router in (
        cues.router,
        rooms.router,
        hooks.router,
        schedules.router,
        keys.router,
        livekit_webhook.router,
        ops.router,
    ):
        app.include_router(router)
    app.mount("/console", create_console(gateway))
    # the last added is the outermost: size first, then the API's edge, then the safety net
    app.add_middleware(Unexpected)
    app.add_middleware(JsonApi, prefixes=("/v1/",))
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app
