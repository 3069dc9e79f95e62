"""LiveKit's own webhooks: the registry of live rooms and agents; an agent joining releases cues."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request, Response
from livekit import api

from ..._errors import AuthenticationFailed
from ..deps import GatewayDep

router = APIRouter(tags=["livekit"])
logger = logging.getLogger("livecue.gateway.livekit")


@router.post("/livekit/webhook", status_code=204, include_in_schema=False)
async def livekit_webhook(request: Request, gateway: GatewayDep) -> Response:
    body = await request.body()  # the raw body is what LiveKit signed
    auth = request.headers.get("authorization", "")  # a bare JWT, no "Bearer"
    creds = gateway.credentials
    receiver = api.WebhookReceiver(api.TokenVerifier(creds.api_key, creds.api_secret))
    try:
        event = receiver.receive(body.decode("utf-8", "replace"), auth)
    except Exception:
        gateway.metrics.webhook_verifications.labels("livekit", "rejected").inc()
        raise AuthenticationFailed("LiveKit webhook signature did not verify") from None
    gateway.metrics.webhook_verifications.labels("livekit", "ok").inc()
    await gateway.livekit_events.apply(event)
    return Response(status_code=204)
