"""FastAPI dependencies: the gateway, and API keys with scopes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .._errors import AuthenticationFailed, PermissionDenied, RateLimited
from ..store import KeyRecord
from .runtime import Gateway
from .services import keys


async def get_gateway(request: Request) -> Gateway:  # async: sync dependencies use a thread
    gateway: Gateway = request.app.state.gateway
    return gateway


GatewayDep = Annotated[Gateway, Depends(get_gateway)]


def require(scope: str) -> object:
    """A dependency that admits a request whose API key has ``scope`` (or ``admin``)."""

    async def check(request: Request, gateway: GatewayDep) -> KeyRecord:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        parsed = keys.parse(token.strip()) if scheme.lower() == "bearer" else None
        if parsed is None:
            raise AuthenticationFailed(
                "missing or malformed API key (send 'Authorization: Bearer lck_...')"
            )
        key_id, secret = parsed
        record = await gateway.api_key(key_id)
        if record is None or not keys.matches(secret, record.secret_hash):
            raise AuthenticationFailed("unknown or revoked API key")
        if scope not in record.scopes and "admin" not in record.scopes:
            raise PermissionDenied(f"this API key lacks the {scope!r} scope")
        wait = await gateway.key_limits.take(key_id, gateway.clock())
        if wait > 0:
            gateway.metrics.rate_limited.labels("key").inc()
            raise RateLimited("too many requests for this API key", wait)
        return record

    return Depends(check)
