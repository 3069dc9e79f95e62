"""What an operator changes: cancel and resend a cue, send one to a room, create and revoke
keys. Every route here takes a form with the session's CSRF token (``FormDep``) and answers
with a redirect to the page that shows the result (or, for a new key, the key, once)."""

from __future__ import annotations

import urllib.parse
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from ..._cue import utcnow
from ..._errors import InvalidRequest, LivecueError, NotFound
from ..deps import GatewayDep
from ..schemas import CueIn, KeyIn
from ..services import keys
from ..services.intake import Origin
from .auth import FormDep, Operator, pages_of
from .pages import CueId, keys_view, rooms_page
from .session import ROOT

router = APIRouter()


def _by(operator: Operator) -> str:
    return f"the console, signed in with API key {operator.key.id}"


def _see(path: str) -> RedirectResponse:
    return RedirectResponse(ROOT + path, status_code=303)


def _first_error(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


@router.post("/cues/{cue_id}/cancel")
async def cancel(cue_id: CueId, gateway: GatewayDep, operator: FormDep) -> Response:
    await gateway.actions.cancel(cue_id, by=_by(operator))
    return _see(f"/cues/{cue_id}")


@router.post("/cues/{cue_id}/resend")
async def resend(cue_id: CueId, gateway: GatewayDep, operator: FormDep) -> Response:
    record = await gateway.actions.resend(
        cue_id, origin=Origin(source="api", key_id=operator.key.id)
    )
    return _see(f"/cues/{record.id}")


@router.post("/rooms/send")
async def send(
    request: Request,
    gateway: GatewayDep,
    operator: FormDep,
    room: Annotated[str, Form(max_length=1024)] = "",
    kind: Annotated[str, Form(max_length=64)] = "reply",
    policy: Annotated[str, Form(max_length=32)] = "queue",
    text: Annotated[str, Form(max_length=20_000)] = "",
    ttl_s: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Send a cue to ``room`` as the API would for this key, then show it on its page,
    which follows it live to its outcome."""
    form = {"room": room, "kind": kind, "policy": policy, "text": text, "ttl_s": ttl_s}
    try:
        ttl = float(ttl_s) if ttl_s.strip() else None
    except ValueError:
        return await rooms_page(
            request, gateway, operator, form, error="ttl_s: a number of seconds"
        )
    try:
        body = CueIn.model_validate(
            {"kind": kind, "policy": policy, "text": text or None, "ttl_s": ttl}
        )
        cue = body.to_cue(default_ttl_s=gateway.settings.default_ttl_s, now=utcnow())
        record, _ = await gateway.intake.accept(
            room.strip(),
            cue,
            origin=Origin(
                source="api", key_id=operator.key.id, callback_url=operator.key.callback_url
            ),
        )
    except ValidationError as exc:
        return await rooms_page(request, gateway, operator, form, error=_first_error(exc))
    except LivecueError as exc:
        return await rooms_page(request, gateway, operator, form, error=str(exc))
    return _see(f"/cues/{record.id}")


@router.post("/keys")
async def create_key(
    request: Request,
    gateway: GatewayDep,
    operator: FormDep,
    name: Annotated[str, Form(max_length=200)] = "",
    scopes: Annotated[list[str] | None, Form()] = None,
    callback_url: Annotated[str, Form(max_length=2048)] = "",
) -> Response:
    """A new key, shown on the page this answer renders and nowhere else, ever."""
    form = {"name": name, "scopes": scopes or [], "callback_url": callback_url}
    try:
        body = KeyIn.model_validate(
            {"name": name or None, "scopes": scopes or [], "callback_url": callback_url or None}
        )
        record, token = await keys.create(
            gateway.store,
            body.scopes,
            name=body.name,
            now=gateway.clock(),
            allow=gateway.callback_allow,
            callback_url=body.callback_url,
        )
    except ValidationError as exc:
        return await keys_view(request, gateway, operator, form=form, error=_first_error(exc))
    except InvalidRequest as exc:  # a callback URL off the allow-list
        return await keys_view(request, gateway, operator, form=form, error=str(exc))
    return pages_of(request).render(
        request,
        "key_created.html",
        status=201,
        operator=operator,
        key=record,
        token=token,
    )


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    key_id: Annotated[str, Path(min_length=1, max_length=64)],
    gateway: GatewayDep,
    _: FormDep,
) -> Response:
    if not any(k.id == key_id for k in await gateway.store.list_keys()):
        raise NotFound(f"no API key with id {key_id!r}")
    await gateway.revoke_key(key_id)
    return _see("/keys?" + urllib.parse.urlencode({"revoked": key_id}))
