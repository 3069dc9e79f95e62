"""Every way a delivery fails raises its own error type, translated at the boundary."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from livekit import api

from harness.livekit_server import free_port
from livecue import (
    MAX_CUE_BYTES,
    AgentNotListening,
    Credentials,
    Cue,
    CueSender,
    CueTooLarge,
    LiveKitUnreachable,
    NoAgentInRoom,
    RoomNotFound,
    Transport,
    Unauthorized,
    decode_cue,
    encode_cue,
    new_cue,
)

from .conftest import Participants, room_name, wire

pytestmark = pytest.mark.integration


@pytest.fixture
def closed_port_credentials(credentials: Credentials) -> Credentials:
    """Credentials for a loopback port nothing listens on."""
    return Credentials(f"ws://127.0.0.1:{free_port()}", credentials.api_key, credentials.api_secret)


@pytest.mark.parametrize(
    ("transport", "to"), [("data", None), ("rpc", None), ("rpc", "agent")], ids=str
)
async def test_unknown_room(sender: CueSender, transport: Transport, to: str | None) -> None:
    room = room_name("missing")
    with pytest.raises(RoomNotFound) as caught:
        await sender.send(room, new_cue("say", "hi"), transport=transport, to=to)
    assert str(caught.value) == f"room {room!r} does not exist on the LiveKit server"
    assert caught.value.room == room
    assert not caught.value.retryable


async def test_room_without_an_agent(participants: Participants, sender: CueSender) -> None:
    room = room_name()
    await participants.join(room, "just-a-user")
    with pytest.raises(NoAgentInRoom) as caught:
        await sender.send(room, new_cue("say", "hi"))
    assert str(caught.value) == f"room {room!r} has no agent in it"
    assert caught.value.room == room


async def test_agent_without_the_livecue_rpc_method(
    participants: Participants, sender: CueSender
) -> None:
    room = room_name()
    await participants.join(room, "deaf-agent", kind="agent")
    with pytest.raises(AgentNotListening) as caught:
        await sender.send(room, new_cue("say", "hi"))
    assert caught.value.identity == "deaf-agent"
    assert "'deaf-agent' does not listen for livecue cues" in str(caught.value)
    assert not caught.value.retryable
    cause = caught.value.__cause__
    assert isinstance(cause, api.ServerError)
    assert "RpcError 1400" in cause.message


@pytest.mark.parametrize("operation", ["data", "rpc", "rooms"])
async def test_wrong_api_secret(
    participants: Participants, credentials: Credentials, operation: str
) -> None:
    room = room_name()
    await participants.join(room, "agent", kind="agent")
    wrong = Credentials(credentials.url, credentials.api_key, "0" * 64)
    async with CueSender(wrong, max_attempts=2, backoff_base_s=0.01) as s:
        with pytest.raises(Unauthorized, match="LiveKit refused the API key and secret"):
            if operation == "rooms":
                await s.rooms()
            else:
                await s.send(room, new_cue("say", "hi"), transport=operation)  # type: ignore[arg-type]


@pytest.mark.parametrize("operation", ["data", "rpc", "rooms"])
async def test_server_unreachable(closed_port_credentials: Credentials, operation: str) -> None:
    async with CueSender(closed_port_credentials, max_attempts=2, backoff_base_s=0.01) as s:
        with pytest.raises(LiveKitUnreachable, match="cannot reach LiveKit") as caught:
            if operation == "rooms":
                await s.rooms()
            else:
                await s.send("any-room", new_cue("say", "hi"), transport=operation)  # type: ignore[arg-type]
    assert caught.value.retryable


def _padded_cue(size: int, room: str = "r", credentials: Credentials | None = None) -> Cue:
    """A ``say`` cue whose encoding is exactly ``size`` bytes (as sent to ``room``, signed
    with the key of ``credentials``, if given)."""
    now = datetime(2030, 1, 1, tzinfo=timezone.utc)
    base = new_cue("say", "x", id="exact-size", now=now)
    encoded = encode_cue(base) if credentials is None else wire(base, room, credentials)
    return new_cue("say", "x" * (1 + size - len(encoded)), id="exact-size", now=now)


async def test_too_large_a_cue_fails_before_any_network_call(
    closed_port_credentials: Credentials,
) -> None:
    # Any network call would raise LiveKitUnreachable; CueTooLarge proves none was made.
    cue = new_cue("say", "x" * MAX_CUE_BYTES)
    async with CueSender(closed_port_credentials, max_attempts=1) as s:
        for transport in ("data", "rpc"):
            with pytest.raises(CueTooLarge) as caught:
                await s.send("any-room", cue, transport=transport)  # type: ignore[arg-type]
            assert caught.value.limit == MAX_CUE_BYTES
            assert caught.value.size > MAX_CUE_BYTES
        with pytest.raises(CueTooLarge):
            await s.broadcast(cue, rooms=["a", "b"])
        with pytest.raises(CueTooLarge):
            await s.broadcast(cue)  # would have to list rooms first
    one_over = _padded_cue(MAX_CUE_BYTES + 1)
    with pytest.raises(CueTooLarge):
        encode_cue(one_over)


async def test_a_cue_of_exactly_the_limit_is_delivered_on_both_transports(
    participants: Participants, sender: CueSender, credentials: Credentials
) -> None:
    room = room_name()
    cue = _padded_cue(MAX_CUE_BYTES, room, credentials)
    raw = wire(cue, room, credentials)
    assert len(raw) == MAX_CUE_BYTES
    listener = await participants.listener(room)
    agent = await participants.rpc_agent(room)

    data = await sender.send(room, cue, transport="data")
    rpc = await sender.send(room, cue, transport="rpc")

    [packet] = await listener.wait_for(1)
    assert packet.data == raw
    [call] = agent.calls
    assert call.payload.encode() == raw
    assert decode_cue(call.payload).id == "exact-size"
    assert data.ok and rpc.ok
    assert rpc.outcome is not None and rpc.outcome.status == "applied"
