"""API keys, for the admin scope: list, create (the key is shown once), revoke."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from ..._errors import NotFound
from ...store import KeyRecord
from ..deps import GatewayDep, require
from ..schemas import KeyCreated, KeyIn, KeyOut
from ..services import keys
from ..views import key_out

router = APIRouter(prefix="/v1", tags=["keys"])

KeyId = Annotated[str, Path(min_length=1, max_length=64)]


@router.get("/keys", response_model=list[KeyOut])
async def list_keys(gateway: GatewayDep, _: Annotated[KeyRecord, require("admin")]) -> list[KeyOut]:
    """Every key, revoked ones included (never a secret: only hashes are stored)."""
    return [key_out(k) for k in await gateway.store.list_keys()]


@router.post("/keys", status_code=201, response_model=KeyCreated)
async def create_key(
    body: KeyIn, gateway: GatewayDep, _: Annotated[KeyRecord, require("admin")]
) -> KeyCreated:
    """A new key with ``scopes``; the answer holds the whole key, this once."""
    record, token = await keys.create(
        gateway.store,
        body.scopes,
        name=body.name,
        now=gateway.clock(),
        allow=gateway.callback_allow,
        callback_url=body.callback_url,
    )
    return KeyCreated(**key_out(record).model_dump(), key=token)


@router.delete(
    "/keys/{key_id}", response_model=KeyOut, responses={404: {"description": "No such key"}}
)
async def revoke_key(
    key_id: KeyId, gateway: GatewayDep, _: Annotated[KeyRecord, require("admin")]
) -> KeyOut:
    """Revoke a key: refused from now on this instance, within 2 s on every other."""
    await gateway.revoke_key(key_id)
    for record in await gateway.store.list_keys():
        if record.id == key_id:
            return key_out(record)
    raise NotFound(f"no API key with id {key_id!r}")
