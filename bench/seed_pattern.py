"""The seed's way of sending a trigger, as a baseline: a fresh API client per call.

Per trigger it builds a new ``LiveKitAPI`` (and with it a new HTTP session and
connection), sends one reliable data packet whose JSON payload says
``trigger_reply`` on topic ``external_trigger``, then closes the client.
Rooms are served one after another.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone

from livekit import api

SEED_TOPIC = "external_trigger"


def seed_payload(message: str) -> bytes:
    body = {
        "action": "trigger_reply",
        "message": message,
        "timestamp": datetime.now(timezone.utc).isoformat(),
    }
    return json.dumps(body).encode()


async def seed_trigger(url: str, api_key: str, api_secret: str, room: str, message: str) -> None:
    """One trigger, the seed's way: open a client, send, close."""
    client = api.LiveKitAPI(url=url, api_key=api_key, api_secret=api_secret)
    request = api.SendDataRequest(
        room=room,
        data=seed_payload(message),
        kind=api.DataPacket.Kind.RELIABLE,
        topic=SEED_TOPIC,
    )
    await client.room.send_data(request)
    await client.aclose()


async def seed_fanout(
    url: str, api_key: str, api_secret: str, rooms: Iterable[str], message: str
) -> None:
    """The seed's daily-reminder loop: one trigger per room, in sequence."""
    for room in rooms:
        await seed_trigger(url, api_key, api_secret, room, message)
