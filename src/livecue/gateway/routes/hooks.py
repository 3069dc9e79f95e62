"""Inbound webhooks from outside systems: ``POST /hooks/{name}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse

from ..deps import GatewayDep
from ..schemas import HookAccepted
from ..services.hooks import describe

router = APIRouter(tags=["hooks"])


@router.post(
    "/hooks/{name}",
    response_model=HookAccepted,
    status_code=202,
    responses={
        200: {"model": HookAccepted, "description": "A repeated delivery, or an ignored event"},
        401: {"description": "Bad signature or stale timestamp: nothing was sent"},
        404: {"description": "No hook of that name"},
        422: {"description": "The payload lacks a field the templates use (named)"},
    },
)
async def inbound_hook(
    name: Annotated[str, Path(max_length=128)], request: Request, gateway: GatewayDep
) -> JSONResponse:
    """Verify a webhook delivery and turn it into a cue, once per delivery id."""
    body = await request.body()  # the raw bytes are what the sender signed
    result = await gateway.hooks.handle(name, body, request.headers)
    return JSONResponse(describe(result), status_code=202 if result.status == "accepted" else 200)
