"""The cue API: accept, broadcast, look up, and the data transport's receipts and catch-up.

Room names may hold ``/``, spaces and any letters: the ``{room:room}`` routes take
the rest of the path (percent-decoded) as the name.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from starlette.convertors import PathConvertor, register_url_convertor

from ..._cue import OutcomeStatus, check_room, utcnow
from ..._errors import InvalidRequest, NotFound
from ...store import CueFilter, CueState, KeyRecord, Source
from ..deps import GatewayDep, require
from ..runtime import Gateway
from ..schemas import (
    BroadcastAccepted,
    BroadcastIn,
    CueAccepted,
    CueIn,
    CuePage,
    CueStatus,
    OutcomeIn,
    PendingOut,
    RoomName,
)
from ..services.intake import Origin
from ..views import cue_status, cue_summary, decode_cursor, encode_cursor

router = APIRouter(prefix="/v1", tags=["cues"])


class _RoomConvertor(PathConvertor):
    """The rest of the path, newlines included, so that every room name reaches the
    validator and a bad one is a 422 that names the rule rather than a bare 404."""

    regex = r"[\s\S]*"


register_url_convertor("room", _RoomConvertor())

RoomPath = Annotated[RoomName, Path(description="The LiveKit room name (percent-encoded)")]
CueId = Annotated[str, Path(min_length=1, max_length=64)]

_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or invalid API key"},
    403: {"description": "The API key lacks the scope"},
    413: {"description": "Body or cue too large"},
    422: {"description": "Invalid request (the message names the field)"},
    429: {"description": "Rate limited (see Retry-After)"},
}


@router.post(
    "/rooms/{room:room}/cues", status_code=202, response_model=CueAccepted, responses=_ERRORS
)
async def send_cue(
    room: RoomPath,
    body: CueIn,
    gateway: GatewayDep,
    key: Annotated[KeyRecord, require("send")],
    idempotency_key: Annotated[str | None, Header(min_length=1, max_length=256)] = None,
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
            callback_url=body.callback_url or key.callback_url,
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
    cue = body.cue.to_cue(default_ttl_s=gateway.settings.default_ttl_s, now=utcnow())
    broadcast_id, records = await gateway.intake.accept_broadcast(
        body.rooms,
        cue,
        prefix=body.prefix,
        origin=Origin(
            source="api", key_id=key.id, callback_url=body.cue.callback_url or key.callback_url
        ),
        transport=body.cue.transport,
        agent_name=body.cue.agent_name,
    )
    return BroadcastAccepted(
        broadcast_id=broadcast_id,
        cues=[CueAccepted(id=r.id, room=r.room, status=r.state) for r in records],
    )


def _each_filter_once(request: Request) -> None:
    """A filter given twice (``state=held&state=queued``) is refused rather than read as
    its last value: the list would not be what was asked for."""
    repeated = sorted({k for k in request.query_params if len(request.query_params.getlist(k)) > 1})
    if repeated:
        raise InvalidRequest(f"{repeated[0]}: give each filter once")


@router.get(
    "/cues",
    response_model=CuePage,
    responses=_ERRORS,
    dependencies=[Depends(_each_filter_once)],
)
async def list_cues(
    gateway: GatewayDep,
    _: Annotated[KeyRecord, require("read")],
    room: Annotated[str | None, Query(min_length=1, max_length=1024)] = None,
    state: CueState | None = None,
    outcome: OutcomeStatus | None = None,
    source: Source | None = None,
    hook: Annotated[
        str | None,
        Query(max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$", description="made by this hook"),
    ] = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> CuePage:
    """Cues, newest first, narrowed by any of the filters; ``next_cursor`` pages on."""
    if room is not None:
        check_room(room)  # no database can hold every string (NUL, a lone surrogate)
    where = CueFilter(
        room=room,
        state=state,
        outcome=outcome,
        source=source,
        hook=hook,
        created_after=_timestamp(created_after),
        created_before=_timestamp(created_before),
        before=decode_cursor(cursor) if cursor else None,
    )
    records = await gateway.store.list_cues(where, limit=limit + 1)
    more = len(records) > limit
    records = records[:limit]
    return CuePage(
        cues=[cue_summary(r) for r in records],
        next_cursor=encode_cursor(records[-1]) if more else None,
    )


def _timestamp(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise InvalidRequest("a time needs its offset (2026-12-02T10:00:00Z, or +01:00)")
    return moment.timestamp()


@router.get(
    "/cues/{cue_id}",
    response_model=CueStatus,
    responses={404: {"description": "No such cue"}, **_ERRORS},
)
async def get_cue(
    cue_id: CueId, gateway: GatewayDep, _: Annotated[KeyRecord, require("read")]
) -> CueStatus:
    """A cue's state, the agent's outcome and receipt, its timestamped history, and its
    status callback with every attempt."""
    return await _status(gateway, cue_id)


async def _status(gateway: Gateway, cue_id: str) -> CueStatus:
    record = await gateway.store.get_cue(cue_id)
    if record is None:
        raise NotFound(f"no cue with id {cue_id!r}")
    history = await gateway.store.history(cue_id)
    return cue_status(record, history, await gateway.store.callbacks_of(cue_id))


@router.delete(
    "/cues/{cue_id}",
    response_model=CueStatus,
    responses={
        404: {"description": "No such cue"},
        409: {"description": "An agent has the cue already, or it is final"},
        **_ERRORS,
    },
)
async def cancel_cue(
    cue_id: CueId, gateway: GatewayDep, key: Annotated[KeyRecord, require("send")]
) -> CueStatus:
    """Cancel a cue that has not reached an agent (state ``cancelled``, with who and when).
    A cue an agent has already gets a 409 that says so."""
    await gateway.actions.cancel(cue_id, by=f"API key {key.id}")
    return await _status(gateway, cue_id)


@router.post(
    "/cues/{cue_id}/resend",
    status_code=202,
    response_model=CueAccepted,
    responses={404: {"description": "No such cue"}, **_ERRORS},
)
async def resend_cue(
    cue_id: CueId, gateway: GatewayDep, key: Annotated[KeyRecord, require("send")]
) -> CueAccepted:
    """A new cue with the same content for the same room, linked to the original
    (``resent_from``), with a fresh id and lifetime."""
    record = await gateway.actions.resend(cue_id, origin=Origin(source="api", key_id=key.id))
    return CueAccepted(id=record.id, room=record.room, status=record.state)


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
    """An agent reports what it did with a cue. A report older than what the record
    holds (or after a final outcome) changes nothing, and is not an error; a report by an
    agent other than the one that has the cue is refused (409)."""
    try:
        outcome = body.to_outcome(cue_id)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None
    await gateway.receipts.report(cue_id, outcome, agent=body.agent)


@router.get("/rooms/{room:room}/pending", response_model=PendingOut, responses=_ERRORS)
async def pending(
    room: RoomPath, gateway: GatewayDep, _: Annotated[KeyRecord, require("agent")]
) -> PendingOut:
    """Cues for ``room`` on the data transport not yet acknowledged: an agent's catch-up
    on join. Each is signed and bound to the room, like a packet."""
    records = await gateway.store.pending_for_room(room, now=gateway.clock())
    return PendingOut(room=room, cues=[gateway.signed(record) for record in records])
