"""The gateway (``livecue serve``): API calls, webhooks and schedules in; delivered cues out.

``create_app(settings)`` builds the ASGI app. Imported lazily, so the CLI's
other commands do not pay for FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .config import GatewayConfig, Settings

__all__ = ["GatewayConfig", "Settings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name in ("Settings", "GatewayConfig"):
        from . import config

        return getattr(config, name)
    raise AttributeError(name)
