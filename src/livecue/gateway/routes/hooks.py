"""Inbound webhooks from outside systems (``POST /hooks/{name}``), and what the API shows
of the hooks and their deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from ..._errors import NotFound, PermissionDenied
from ...store import KeyRecord
from ..deps import GatewayDep, require
from ..schemas import HookAccepted, HookDeliveryPage, HookOut
from ..services.hooks import describe
from ..views import hook_delivery

router = APIRouter(tags=["hooks"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API key"},
    403: {"description": "The API key lacks the scope"},
}


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


@router.get("/v1/hooks", response_model=list[HookOut], responses=_ERRORS)
async def list_hooks(
    gateway: GatewayDep, _: Annotated[KeyRecord, require("read")]
) -> list[HookOut]:
    """The configured hooks (never their secrets)."""
    return [
        HookOut(
            name=name,
            scheme=config.verify.scheme,
            room=config.room,
            filter=config.filter,
            transport=config.transport,
            callback_url=config.callback_url,
        )
        for name, config in gateway.hooks.configured().items()
    ]


@router.get(
    "/v1/hooks/{name}/deliveries",
    response_model=HookDeliveryPage,
    responses={404: {"description": "No hook of that name"}, **_ERRORS},
)
async def hook_deliveries(
    name: Annotated[str, Path(max_length=128)],
    gateway: GatewayDep,
    key: Annotated[KeyRecord, require("read")],
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    body: Annotated[bool, Query(description="include each body (admin scope)")] = False,
) -> HookDeliveryPage:
    """A hook's deliveries, newest first, with the verdict on each: accepted, replay,
    bad_signature, stale, filtered, template_error or invalid."""
    if name not in gateway.hooks.configured():
        raise NotFound(f"no hook named {name!r} is configured")
    if body and "admin" not in key.scopes:
        raise PermissionDenied("bodies of hook deliveries are shown to the admin scope only")
    entries = await gateway.store.hook_log(name, limit=limit + 1, before=before)
    more = len(entries) > limit
    entries = entries[:limit]
    return HookDeliveryPage(
        deliveries=[hook_delivery(e, with_body=body) for e in entries],
        next_before=entries[-1].seq if more else None,
    )
