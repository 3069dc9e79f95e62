"""Child process holding the listening participants: ``python -m bench._listen``.

Keeping the listeners out of the benchmark's own process means their packet
handling does not run on the sender's event loop while it is being timed.

The participants join with ``harness.participants.LOOPBACK_OPTIONS``: with the
SDK's defaults, 200 participants in one process exhaust it; with them, they hold
about 600 descriptors and a dozen threads.

Requests and answers are JSON lines on stdin and stdout; the server comes from
``LIVEKIT_URL`` / ``LIVEKIT_API_KEY`` / ``LIVEKIT_API_SECRET``.

- ``{"op": "join", "rooms": [...], "concurrency": 10}`` → ``{"joined": n, "seconds": s}``
- ``{"op": "counts", "rooms": [...], "marker": m, "timeout_s": t, "settle_s": s}`` →
  ``{"counts": {room: packets carrying m}}``, once every room has one (or at ``t``),
  ``s`` seconds later
- ``{"op": "close"}`` or end of input: leave every room and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlparse

from livekit import rtc

from harness.livekit_server import LiveKitServer
from harness.participants import join


class Inbox:
    """Every data packet each room's listener received, as raw bytes."""

    def __init__(self) -> None:
        self.packets: dict[str, list[bytes]] = defaultdict(list)
        self._arrived = asyncio.Event()

    def record(self, room: str, packet: rtc.DataPacket) -> None:
        self.packets[room].append(packet.data)
        self._arrived.set()

    def counts(self, rooms: Sequence[str], marker: bytes) -> dict[str, int]:
        return {r: sum(marker in p for p in self.packets.get(r, ())) for r in rooms}

    async def wait_for(
        self, rooms: Sequence[str], marker: bytes, timeout_s: float
    ) -> dict[str, int]:
        """Wait until every room got a packet carrying ``marker``; the counts per room."""
        deadline = time.monotonic() + timeout_s
        while True:
            counts = self.counts(rooms, marker)
            remaining = deadline - time.monotonic()
            if all(counts.values()) or remaining <= 0:
                return counts
            self._arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), min(remaining, 0.2))


def server_from_env() -> LiveKitServer:
    """Describes the already running server (this process does not start one)."""
    port = urlparse(os.environ["LIVEKIT_URL"]).port
    assert port is not None
    return LiveKitServer(
        api_key=os.environ["LIVEKIT_API_KEY"],
        api_secret=os.environ["LIVEKIT_API_SECRET"],
        port=port,
    )


async def join_all(
    server: LiveKitServer, rooms: Sequence[str], inbox: Inbox, concurrency: int
) -> list[rtc.Room]:
    """One listening agent participant per room, ``concurrency`` joining at a time."""
    gate = asyncio.Semaphore(concurrency)
    joined: list[rtc.Room] = []

    async def one(room: str) -> None:
        async with gate:
            for attempt in range(1, 4):
                r = rtc.Room()
                r.on("data_received", lambda packet: inbox.record(room, packet))
                joined.append(r)  # before connecting, so a half-open room is still closed
                try:
                    # an agent participant: livecue sends a room's cues to its agents only
                    await join(server, room, "listener", kind="agent", room_obj=r)
                    break
                except rtc.ConnectError as exc:
                    # a busy machine times out a signal connection now and then
                    print(f"listener {room}: attempt {attempt} failed: {exc}", file=sys.stderr)
                    joined.remove(r)
                    await r.disconnect()
                    if attempt == 3:
                        raise
        if len(joined) % 100 == 0:
            print(f"listeners: {len(joined)} of {len(rooms)} joined", file=sys.stderr)

    try:
        await asyncio.gather(*(one(room) for room in rooms))
    except BaseException:
        await asyncio.gather(*(r.disconnect() for r in joined), return_exceptions=True)
        raise
    return joined


async def serve() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    server, inbox = server_from_env(), Inbox()
    joined: list[rtc.Room] = []

    def answer(message: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(message) + "\n")
        sys.stdout.flush()

    try:
        while line := await reader.readline():
            request = json.loads(line)
            if request["op"] == "join":
                start = time.perf_counter()
                joined = await join_all(server, request["rooms"], inbox, request["concurrency"])
                answer({"joined": len(joined), "seconds": time.perf_counter() - start})
            elif request["op"] == "counts":
                rooms, marker = request["rooms"], request["marker"].encode()
                await inbox.wait_for(rooms, marker, request["timeout_s"])
                await asyncio.sleep(request.get("settle_s", 0.0))
                answer({"counts": inbox.counts(rooms, marker)})
            elif request["op"] == "close":
                break
    finally:
        await asyncio.gather(*(r.disconnect() for r in joined), return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(serve())
