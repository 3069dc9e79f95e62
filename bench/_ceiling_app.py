"""The ceiling for ``bench ingest``: the same request through the same server, and nothing else.

``uvicorn bench._ceiling_app:app`` answers ``POST /v1/rooms/{room}/cues`` as the gateway
does up to the point where it would store the cue — FastAPI routing, the same pydantic
schema, the same envelope checks — and answers 202 without touching a database. What the
gateway reaches next to this, in one run, is the price of durability.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import FastAPI, Header

from livecue._cue import check_room, encode_cue, utcnow
from livecue.gateway.schemas import CueAccepted, CueIn, RoomName

app = FastAPI()


@app.post("/v1/rooms/{room}/cues", status_code=202)
async def accept(
    room: RoomName, body: CueIn, authorization: Annotated[str | None, Header()] = None
) -> CueAccepted:
    cue = body.to_cue(default_ttl_s=60, now=utcnow())
    check_room(room)
    encode_cue(cue, room=room)
    return CueAccepted(id=cue.id or uuid.uuid4().hex, room=room, status="queued")
