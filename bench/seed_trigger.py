"""The seed's command-line trigger as a process: ``python bench/seed_trigger.py ROOM MESSAGE``.

Behaves like the seed's ``external_trigger.py``: reads ``.env`` with
python-dotenv, imports ``livekit.api``, opens a new client, sends one reliable
data packet on topic ``external_trigger``, prints one line and closes. Kept
free of livecue and bench imports so its start-up cost is the seed's own.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import sys

from dotenv import load_dotenv
from livekit import api
from livekit.protocol.models import DataPacket  # the seed's `livekit.protocol.room` lost it


async def trigger(room: str, message: str) -> None:
    client = api.LiveKitAPI(
        url=os.getenv("LIVEKIT_URL"),
        api_key=os.getenv("LIVEKIT_API_KEY"),
        api_secret=os.getenv("LIVEKIT_API_SECRET"),
    )
    payload = {
        "action": "trigger_reply",
        "message": message,
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
    }
    await client.room.send_data(
        api.SendDataRequest(
            room=room,
            data=json.dumps(payload).encode(),
            kind=DataPacket.Kind.RELIABLE,
            topic="external_trigger",
        )
    )
    print(f"sent trigger to room {room!r}")
    await client.aclose()


def main(argv: list[str]) -> int:
    load_dotenv()
    if len(argv) != 2:
        print("usage: seed_trigger.py ROOM MESSAGE", file=sys.stderr)
        return 2
    asyncio.run(trigger(argv[0], argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
