"""Real participants for integration tests: RPC answerers and data listeners.

Every room a test joins is disconnected when the test ends. Room names are
unique per test because one livekit-server serves the whole session.

Every participant joined here is probed on both paths until it is reachable
(``harness.participants.wait_until_reachable``), so tests start from a
participant that can really receive.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest
from livekit import rtc

from harness.livekit_server import LiveKitServer
from harness.participants import READY_TOPIC, join, wait_until_reachable
from livecue import (
    RPC_METHOD,
    Credentials,
    Cue,
    CueSender,
    Outcome,
    SigningKey,
    decode_cue,
    encode_cue,
)

Responder = Callable[[rtc.RpcInvocationData], Awaitable[str]]


def room_name(prefix: str = "it") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def wire(cue: Cue, room: str, credentials: Credentials) -> bytes:
    """The bytes a CueSender with ``credentials`` sends for ``cue`` to ``room``: signed with
    the key derived from the API secret, and bound to the room."""
    key = SigningKey.from_livekit(credentials.api_key, credentials.api_secret)
    return encode_cue(cue, secret=key, room=room)


async def answer_applied(call: rtc.RpcInvocationData) -> str:
    return Outcome(cue_id=decode_cue(call.payload).id, status="applied").encode()


@dataclass
class RpcAgent:
    """A joined participant that answers ``livecue.cue`` calls and records them."""

    room: rtc.Room
    identity: str
    respond: Responder
    calls: list[rtc.RpcInvocationData] = field(default_factory=list)

    async def handle(self, call: rtc.RpcInvocationData) -> str:
        self.calls.append(call)
        return await self.respond(call)

    @property
    def cue_ids(self) -> list[str]:
        return [decode_cue(c.payload).id for c in self.calls]


@dataclass
class DataListener:
    """A joined participant that records every data packet it receives."""

    room: rtc.Room
    identity: str
    packets: list[rtc.DataPacket] = field(default_factory=list)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def on_packet(self, packet: rtc.DataPacket) -> None:
        if packet.topic == READY_TOPIC:
            return
        self.packets.append(packet)
        self._arrived.set()

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[rtc.DataPacket]:
        """Wait until ``count`` packets have arrived; fail the test after ``timeout``."""

        async def enough() -> None:
            while len(self.packets) < count:
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(enough(), timeout)
        return list(self.packets)


class Participants:
    """Joins real participants into rooms of the session's server; leaves them all at the end."""

    def __init__(self, server: LiveKitServer) -> None:
        self.server = server
        self._rooms: list[rtc.Room] = []

    async def join(
        self,
        room: str,
        identity: str,
        *,
        kind: str | None = None,
        attributes: dict[str, str] | None = None,
    ) -> rtc.Room:
        r = rtc.Room()
        self._rooms.append(r)  # before connecting, so a half-open room is still closed
        await join(self.server, room, identity, kind=kind, attributes=attributes, room_obj=r)
        await wait_until_reachable(self.server, r, room, identity)
        return r

    async def rpc_agent(
        self,
        room: str,
        identity: str = "agent",
        *,
        respond: Responder = answer_applied,
        kind: str | None = "agent",
        agent_name: str | None = None,
    ) -> RpcAgent:
        """A participant (an AGENT unless ``kind=None``) that answers livecue's RPC method."""
        attributes = {"lk.agent.name": agent_name} if agent_name else None
        r = await self.join(room, identity, kind=kind, attributes=attributes)
        agent = RpcAgent(r, identity, respond)
        r.local_participant.register_rpc_method(RPC_METHOD, agent.handle)
        return agent

    async def listener(
        self,
        room: str,
        identity: str = "listener",
        *,
        kind: str | None = "agent",
        agent_name: str | None = None,
    ) -> DataListener:
        """A participant recording data packets: an AGENT (named ``agent_name``, if given),
        since data cues go to the room's agents; ``kind=None`` joins as a plain participant."""
        attributes = {"lk.agent.name": agent_name} if agent_name else None
        r = await self.join(room, identity, kind=kind, attributes=attributes)
        listener = DataListener(r, identity)
        r.on("data_received", listener.on_packet)
        return listener

    async def aclose(self) -> None:
        await asyncio.gather(*(r.disconnect() for r in self._rooms), return_exceptions=True)
        self._rooms.clear()


@pytest.fixture
async def participants(livekit_server: LiveKitServer) -> AsyncIterator[Participants]:
    people = Participants(livekit_server)
    try:
        yield people
    finally:
        await people.aclose()


@pytest.fixture
async def sender(credentials: Credentials) -> AsyncIterator[CueSender]:
    """A sender with fast retries, so failure paths stay quick."""
    s = CueSender(credentials, max_attempts=2, backoff_base_s=0.01)
    try:
        yield s
    finally:
        await s.aclose()
