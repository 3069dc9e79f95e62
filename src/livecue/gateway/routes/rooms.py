"""Live rooms and the agents in them, as LiveKit reports them now."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from ...store import KeyRecord
from ..deps import GatewayDep, require
from ..schemas import RoomOut

router = APIRouter(prefix="/v1", tags=["rooms"])


@router.get("/rooms", response_model=list[RoomOut])
async def list_rooms(
    gateway: GatewayDep, _: Annotated[KeyRecord, require("read")]
) -> list[RoomOut]:
    return [
        RoomOut(name=r.name, num_participants=r.num_participants, agents=list(r.agents))
        for r in await gateway.sender.rooms()
    ]
