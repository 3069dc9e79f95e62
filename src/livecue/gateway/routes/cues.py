"""The cue API: accept, broadcast, look up, and the data transport's receipts and catch-up."""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path

from ..._cue import utcnow
from ...store import KeyRecord, state_after_outcome
from ..deps import GatewayDep, require
from ..errors import NotFound, Unavailable, Unprocessable
from ..schemas import (
    BroadcastAccepted,
    BroadcastIn,
    CueAccepted,
    CueIn,
    CueStatus,
    HistoryEntry,
    OutcomeIn,
    PendingOut,
    utc,
)
from ..services.intake import Origin

router = APIRouter(prefix="/v1", tags=["cues"])

RoomName = Annotated[str, Path(min_length=1, max_length=256)]
CueId = Annotated[str, Path(min_length=1, max_length=64)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API key"},
    403: {"description": "The API key lacks the scope"},
    413: {"description": "Body or cue too large"},
    422: {"description": "Invalid request (the message names the field)"},
    429: {"description": "Rate limited (see Retry-After)"},
}


@router.post("/rooms/{room}/cues", status_code=202, response_model=CueAccepted, responses=_ERRORS)
async def send_cue(
    room: RoomName,
    body: CueIn,
    gateway: GatewayDep,
    key: Annotated[KeyRecord, require("send")],
    idempotency_key: Annotated[str | None, Header(max_length=256)] = None,
) -> CueAccepted:
    """Store a cue for the agent in ``room`` and deliver it as soon as an agent can act.

    The same ``Idempotency-Key`` with the same body returns the cue made the first time.
    """
    request_hash = hashlib.sha256(
        json.dumps([room, body.model_dump(mode="json")], sort_keys=True).encode()
    ).hexdigest()
    cue = body.to_cue(default_ttl_s=gateway.settings.default_ttl_s, now=utcnow())
    record, _ = await gateway.intake.accept(
        room,
        cue,
        origin=Origin(
            source="api",
            key_id=key.id,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
        ),
        transport=body.transport,
        agent_name=body.agent_name,
    )
    return CueAccepted(id=record.id, room=record.room, status=record.state)


@router.post("/broadcasts", status_code=202, response_model=BroadcastAccepted, responses=_ERRORS)
async def broadcast(
    body: BroadcastIn,
    gateway: GatewayDep,
    key: Annotated[KeyRecord, require("broadcast")],
) -> BroadcastAccepted:
    """One cue to each of ``rooms``, to live rooms named ``prefix``..., or to all live rooms."""
    if body.rooms is not None:
        rooms = list(dict.fromkeys(body.rooms))
    else:
        rooms = await gateway.sender.resolve_rooms(room_prefix=body.prefix)
    cue = body.cue.to_cue(default_ttl_s=gateway.settings.default_ttl_s, now=utcnow())
    broadcast_id, records = await gateway.intake.accept_broadcast(
        rooms,
        cue,
        origin=Origin(source="api", key_id=key.id),
        transport=body.cue.transport,
        agent_name=body.cue.agent_name,
    )
    return BroadcastAccepted(
        broadcast_id=broadcast_id,
        cues=[CueAccepted(id=r.id, room=r.room, status=r.state) for r in records],
    )


@router.get(
    "/cues/{cue_id}",
    response_model=CueStatus,
    responses={404: {"description": "No such cue"}, **_ERRORS},
)
async def get_cue(
    cue_id: CueId, gateway: GatewayDep, _: Annotated[KeyRecord, require("read")]
) -> CueStatus:
    """A cue's status, the agent's outcome, and its timestamped history."""
    record = await gateway.store.get_cue(cue_id)
    if record is None:
        raise NotFound(f"no cue with id {cue_id!r}")
    history = await gateway.store.history(cue_id)
    return CueStatus(
        id=record.id,
        room=record.room,
        transport=record.transport,
        status=record.state,
        outcome=record.outcome,
        reason=record.reason,
        attempts=record.attempts,
        created_at=utc(record.created_at),
        updated_at=utc(record.updated_at),
        delivered_at=utc(record.delivered_at) if record.delivered_at else None,
        expires_at=utc(record.expires_at),
        cue=json.loads(record.payload),
        history=[HistoryEntry(at=utc(h.at), state=h.state, reason=h.reason) for h in history],
    )


@router.post(
    "/cues/{cue_id}/outcome",
    status_code=204,
    responses={404: {"description": "No such cue"}, **_ERRORS},
)
async def report_outcome(
    cue_id: CueId,
    body: OutcomeIn,
    gateway: GatewayDep,
    _: Annotated[KeyRecord, require("agent")],
) -> None:
    """An agent on the data transport reports what it did with a cue (its receipt)."""
    state = state_after_outcome(body.status)
    # The dispatcher may move the cue (sending -> delivered "sent") between our read and
    # our write; the write is conditional on the state read, so read again and retry.
    for _attempt in range(5):
        record = await gateway.store.get_cue(cue_id)
        if record is None:
            raise NotFound(f"no cue with id {cue_id!r}")
        if record.final and record.state != "delivered":
            raise Unprocessable(f"cue {cue_id!r} is already {record.state}")
        if await gateway.store.set_state(
            cue_id,
            state,
            from_state=record.state,
            now=gateway.clock(),
            reason=body.reason or f"the agent reported {body.status}",
            outcome=body.status,
        ):
            return
    raise Unavailable(f"cue {cue_id!r} kept changing; report again")


@router.get("/rooms/{room}/pending", response_model=PendingOut, responses=_ERRORS)
async def pending(
    room: RoomName, gateway: GatewayDep, _: Annotated[KeyRecord, require("agent")]
) -> PendingOut:
    """Cues for ``room`` on the data transport not yet acknowledged: an agent's catch-up on join."""
    records = await gateway.store.pending_for_room(room, now=gateway.clock())
    # each payload is the envelope intake encoded (encode_cue): no need to validate it again
    return PendingOut(room=room, cues=[json.loads(record.payload) for record in records])
