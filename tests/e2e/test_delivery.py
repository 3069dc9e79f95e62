"""Delivery rules at the edges: expiry, origin, size, missing rooms and agents, the seed."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from livekit import api

from harness.agent import RunningAgent
from harness.livekit_server import LiveKitServer
from harness.observer import Observer
from harness.participants import join
from livecue import (
    MAX_CUE_BYTES,
    CueSender,
    CueTooLarge,
    NoAgentInRoom,
    RoomNotFound,
    encode_cue,
    new_cue,
)

pytestmark = pytest.mark.e2e

SECRET = "a-shared-secret-for-cue-signatures"


async def test_expired_cue_is_dropped_as_expired(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    an_hour_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)
    cue = new_cue("say", "Too late to say.", ttl=60, now=an_hour_ago)

    result = await sender.send(room_name, cue)

    assert result.outcome is not None and result.outcome.status == "expired"
    assert await observer.quiet_for(1.0) == []
    assert agent.outcomes(cue.id) == ["expired"]


async def test_cue_from_an_ordinary_participant_is_ignored(
    livekit_server: LiveKitServer, agent: RunningAgent, observer: Observer, room_name: str
) -> None:
    intruder = await join(livekit_server, room_name, "intruder")
    try:
        # LiveKit announces participants that publish nothing in batches, every 3 s
        await _until(lambda: "intruder" in agent.room.remote_participants, timeout=8)
        forged = new_cue("say", "I am not the server.")
        await intruder.local_participant.publish_data(
            encode_cue(forged), reliable=True, topic="livecue"
        )
        assert await observer.quiet_for(1.5) == []
        dropped = [e for e in agent.events if e.type == "cue_dropped"]
        assert dropped and "intruder" in (dropped[0].outcome.reason or "")
        assert all(e.type != "cue_received" for e in agent.events)
    finally:
        await intruder.disconnect()


async def test_rpc_from_a_participant_is_refused(
    livekit_server: LiveKitServer, agent: RunningAgent, observer: Observer, room_name: str
) -> None:
    intruder = await join(livekit_server, room_name, "intruder")
    try:
        answer = await intruder.local_participant.perform_rpc(
            destination_identity="agent",
            method="livecue.cue",
            payload=encode_cue(new_cue("say", "Calling as a client.")).decode(),
        )
        assert json.loads(answer)["status"] == "rejected"
        assert "intruder" in json.loads(answer)["reason"]
        assert await observer.quiet_for(1.0) == []
    finally:
        await intruder.disconnect()


@pytest.mark.parametrize("agent_options", [{"secret": SECRET}])
async def test_with_a_secret_only_signed_cues_are_acted_on(
    livekit_server: LiveKitServer,
    agent: RunningAgent,
    observer: Observer,
    credentials: object,
    room_name: str,
) -> None:
    # A hidden participant's packets arrive without a sender, just like the server's:
    # only the signature tells them apart.
    ghost = await join(livekit_server, room_name, "ghost", hidden=True)
    try:
        await ghost.local_participant.publish_data(
            encode_cue(new_cue("say", "Unsigned words.")), reliable=True, topic="livecue"
        )
        async with CueSender(credentials, secret=SECRET) as signed:  # type: ignore[arg-type]
            result = await signed.send(room_name, new_cue("say", "Signed words."))
        assert result.outcome is not None and result.outcome.status == "applied"
        await observer.wait_for_text("Signed words.")
        await observer.quiet_for(0.5)
        assert "Unsigned words." not in observer.texts()
        reasons = [e.outcome.reason or "" for e in agent.events if e.type == "cue_dropped"]
        assert any("not signed" in r for r in reasons)
    finally:
        await ghost.disconnect()


@pytest.mark.parametrize("transport", ["rpc", "data"])
async def test_a_cue_of_exactly_15_kib_is_delivered(
    agent: RunningAgent, sender: CueSender, room_name: str, transport: str
) -> None:
    cue = _cue_of_size(MAX_CUE_BYTES)

    result = await sender.send(room_name, cue, transport=transport)  # type: ignore[arg-type]

    assert result.ok
    await _until(lambda: agent.outcomes(cue.id) == ["applied"])


async def test_a_cue_one_byte_over_is_refused_before_sending(
    agent: RunningAgent, sender: CueSender, room_name: str
) -> None:
    cue = _cue_of_size(MAX_CUE_BYTES + 1)

    with pytest.raises(CueTooLarge):
        await sender.send(room_name, cue)
    assert agent.events == []


async def test_unknown_room_and_room_without_agent_are_different_errors(
    livekit_server: LiveKitServer, sender: CueSender, room_name: str
) -> None:
    with pytest.raises(RoomNotFound):
        await sender.send(f"{room_name}-nowhere", new_cue("say", "hello"))

    lonely = await join(livekit_server, room_name, "only-a-human")
    try:
        with pytest.raises(NoAgentInRoom):
            await sender.send(room_name, new_cue("say", "hello"))
    finally:
        await lonely.disconnect()


async def test_rpc_returns_the_agents_outcome(
    agent: RunningAgent, sender: CueSender, room_name: str
) -> None:
    applied = await sender.send(room_name, new_cue("context", "VIP caller"))
    skipped = await sender.send(room_name, new_cue("interrupt"))  # nothing is playing

    assert applied.outcome is not None and applied.outcome.status == "applied"
    assert skipped.outcome is not None and skipped.outcome.status in ("applied", "skipped")
    assert agent.outcomes(applied.cue_id) == ["applied"]


async def test_the_seeds_own_payload_still_makes_the_agent_reply(
    livekit_server: LiveKitServer, agent: RunningAgent, observer: Observer, room_name: str
) -> None:
    # exactly the seed's external_trigger.py, including a client per call
    lkapi = api.LiveKitAPI(
        url=livekit_server.http_url,
        api_key=livekit_server.api_key,
        api_secret=livekit_server.api_secret,
    )
    payload = json.dumps(
        {
            "action": "trigger_reply",
            "message": "A new donation of $100 was received!",
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(),
        }
    )
    await lkapi.room.send_data(
        api.SendDataRequest(
            room=room_name,
            data=payload.encode("utf-8"),
            kind=api.DataPacket.Kind.RELIABLE,
            topic="external_trigger",
        )
    )
    await lkapi.aclose()

    seg = await observer.wait_for_text("A new donation of $100 was received!")
    assert seg.text.startswith("Update:")


def _cue_of_size(size: int) -> object:
    base = new_cue("say", "x")
    overhead = len(encode_cue(base)) - 1
    cue = base.replace(text="x" * (size - overhead))
    assert len(encode_cue(cue)) == size if size <= MAX_CUE_BYTES else True
    return cue


async def _until(predicate: object, timeout: float = 5.0) -> None:
    import asyncio

    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)
