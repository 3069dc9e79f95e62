"""Delivery rules at the edges: expiry, origin, size, missing rooms and agents, the seed."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
from collections.abc import Callable

import pytest
from livekit import api, rtc

from harness.agent import RunningAgent
from harness.livekit_server import LiveKitServer
from harness.observer import Observer
from harness.participants import join
from livecue import (
    MAX_CUE_BYTES,
    Credentials,
    Cue,
    CueRefused,
    CueSender,
    CueTooLarge,
    NoAgentInRoom,
    RoomNotFound,
    SigningKey,
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


async def test_by_default_only_cues_signed_with_the_livekit_key_are_acted_on(
    livekit_server: LiveKitServer,
    agent: RunningAgent,
    observer: Observer,
    sender: CueSender,
    room_name: str,
) -> None:
    # A hidden participant's packets arrive without a sender, just like the server's:
    # only the signature tells them apart. attach() was given no secret at all.
    ghost = await join(livekit_server, room_name, "ghost", hidden=True)
    try:
        await ghost.local_participant.publish_data(
            encode_cue(new_cue("say", "Unsigned words.")), reliable=True, topic="livecue"
        )
        result = await sender.send(room_name, new_cue("say", "Signed words."))
        assert result.outcome is not None and result.outcome.status == "started"
        await observer.wait_for_text("Signed words.")
        await observer.quiet_for(0.5)
        assert "Unsigned words." not in observer.texts()
        reasons = [e.outcome.reason or "" for e in agent.events if e.type == "cue_dropped"]
        assert any("not signed" in r for r in reasons)
    finally:
        await ghost.disconnect()


@pytest.mark.parametrize("agent_options", [{"secret": SECRET}])
async def test_a_separate_secret_replaces_the_derived_key_and_a_mismatch_says_so(
    agent: RunningAgent, observer: Observer, credentials: Credentials, room_name: str
) -> None:
    async with CueSender(credentials) as derived:  # signs with the LiveKit-derived key
        refused = await derived.send(room_name, new_cue("say", "Wrong key."), transport="data")
        with pytest.raises(CueRefused) as info:
            await derived.send(room_name, new_cue("say", "Wrong key again."))
    assert refused.ok  # a data packet has no answer; the agent logs and drops it
    # the agent names both keys and the fix, never a secret
    assert repr(credentials.api_key) in info.value.reason
    assert "LIVECUE_SECRET" in info.value.reason and SECRET not in info.value.reason
    async with CueSender(credentials, secret=SECRET) as shared:
        result = await shared.send(room_name, new_cue("say", "Signed words."))
    assert result.outcome is not None and result.outcome.status == "started"
    await observer.wait_for_text("Signed words.")
    assert "Wrong key." not in " ".join(await observer.quiet_for(0.5) + observer.texts())


@pytest.mark.parametrize("transport", ["rpc", "data"])
async def test_a_cue_of_exactly_15_kib_is_delivered(
    agent: RunningAgent,
    sender: CueSender,
    credentials: Credentials,
    room_name: str,
    transport: str,
) -> None:
    cue = _cue_of_size(MAX_CUE_BYTES, room_name, credentials)

    result = await sender.send(room_name, cue, transport=transport)  # type: ignore[arg-type]

    assert result.ok
    await _until(lambda: agent.outcomes(cue.id) == ["started", "applied"])


async def test_a_cue_one_byte_over_is_refused_before_sending(
    agent: RunningAgent, sender: CueSender, credentials: Credentials, room_name: str
) -> None:
    cue = _cue_of_size(MAX_CUE_BYTES + 1, room_name, credentials)

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


async def _send_like_the_seed(livekit_server: LiveKitServer, room: str, message: str) -> None:
    """Exactly the seed's external_trigger.py, including a client per call."""
    lkapi = api.LiveKitAPI(
        url=livekit_server.http_url,
        api_key=livekit_server.api_key,
        api_secret=livekit_server.api_secret,
    )
    payload = json.dumps(
        {
            "action": "trigger_reply",
            "message": message,
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(),
        }
    )
    await lkapi.room.send_data(
        api.SendDataRequest(
            room=room,
            data=payload.encode("utf-8"),
            kind=api.DataPacket.Kind.RELIABLE,
            topic="external_trigger",
        )
    )
    await lkapi.aclose()


@pytest.mark.parametrize("agent_options", [{"accept_legacy": True}])
async def test_the_seeds_own_payload_makes_the_agent_reply_when_enabled(
    livekit_server: LiveKitServer, agent: RunningAgent, observer: Observer, room_name: str
) -> None:
    await _send_like_the_seed(livekit_server, room_name, "A new donation of $100 was received!")

    seg = await observer.wait_for_text("A new donation of $100 was received!")
    assert seg.text.startswith("Update:")


async def test_the_seeds_unsigned_payload_is_ignored_by_default(
    livekit_server: LiveKitServer, agent: RunningAgent, observer: Observer, room_name: str
) -> None:
    await _send_like_the_seed(livekit_server, room_name, "Unsigned legacy trigger.")
    # a signed cue afterwards: once it is heard, the legacy packet had its chance
    async with CueSender(
        Credentials(livekit_server.url, livekit_server.api_key, livekit_server.api_secret)
    ) as sender:
        await sender.send(room_name, new_cue("say", "After the trigger."), transport="data")
    await observer.wait_for_text("After the trigger.")
    assert not any("Unsigned legacy" in t for t in observer.texts())
    assert [e.cue.id for e in agent.events if e.type == "cue_received"] != []
    assert all("legacy" not in e.cue.id for e in agent.events if e.type == "cue_received")


def _cue_of_size(size: int, room: str, credentials: Credentials) -> Cue:
    """A ``say`` cue whose wire form, as a CueSender with ``credentials`` sends it to
    ``room`` (signed, bound to the room), is exactly ``size`` bytes."""
    key = SigningKey.from_livekit(credentials.api_key, credentials.api_secret)
    base = new_cue("say", "x")
    overhead = len(encode_cue(base, secret=key, room=room)) - 1
    return base.replace(text="x" * (size - overhead))


async def _until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met")
        await asyncio.sleep(0.05)


async def test_a_participant_sending_cues_from_the_moment_it_joins_never_makes_it_act(
    livekit_server: LiveKitServer,
    agent: RunningAgent,
    observer: Observer,
    sender: CueSender,
    room_name: str,
) -> None:
    """Unsigned, wrongly signed, bound to another room, the seed's format, over data and RPC,
    from before the agent has been told the participant exists: none is acted on. Cues never
    reach a participant; one leaked to it anyway and replayed is acted on once."""
    wrong_key = SigningKey.from_livekit("APIstolen", "not-the-real-secret")
    real_key = SigningKey.from_livekit(livekit_server.api_key, livekit_server.api_secret)
    forged = [
        encode_cue(new_cue("say", "Unsigned intruder.")),
        encode_cue(new_cue("say", "Wrong key intruder."), secret=wrong_key, room=room_name),
        encode_cue(new_cue("say", "Other room intruder."), secret=real_key, room="elsewhere"),
        encode_cue(new_cue("interrupt"), secret=wrong_key, room=room_name),
    ]
    legacy = json.dumps({"action": "trigger_reply", "message": "Legacy intruder."}).encode()
    leaked = new_cue("say", "The real one.")
    leaked_bytes = encode_cue(leaked, secret=real_key, room=room_name)
    intruder = rtc.Room()
    received: list[bytes] = []
    intruder.on(
        "data_received", lambda p: received.append(p.data) if p.topic == "livecue" else None
    )
    attempts = 0
    await join(livekit_server, room_name, "intruder", room_obj=intruder)
    try:
        await sender.send(room_name, leaked, transport="data")  # to the room's agents
        deadline = asyncio.get_running_loop().time() + 5.0  # past LiveKit's 3 s batches
        while asyncio.get_running_loop().time() < deadline:
            for payload in [*forged, leaked_bytes]:
                await intruder.local_participant.publish_data(payload, topic="livecue")
                with contextlib.suppress(rtc.RpcError):
                    await intruder.local_participant.perform_rpc(
                        destination_identity="agent",
                        method="livecue.cue",
                        payload=payload.decode(),
                        response_timeout=2.0,
                    )
                attempts += 2
            await intruder.local_participant.publish_data(legacy, topic="external_trigger")
            await asyncio.sleep(0.05)
        await observer.wait_for_text("The real one.")
        await observer.quiet_for(1.0)
    finally:
        await intruder.disconnect()

    assert received == []  # a participant never gets a cue
    assert attempts > 100
    assert not any("intruder" in t.lower() for t in observer.texts()), observer.texts()
    assert observer.texts().count("The real one.") == 1
    acted = [e.cue.text for e in agent.events if e.type == "cue_started"]
    assert acted == ["The real one."]
    received_texts = {e.cue.text for e in agent.events if e.type == "cue_received"}
    assert received_texts == {"The real one."}  # everything else was refused before decoding


async def test_a_cue_made_in_the_future_is_refused_naming_the_clock(
    agent: RunningAgent, observer: Observer, sender: CueSender, room_name: str
) -> None:
    ahead = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=5)
    with pytest.raises(CueRefused, match="in the future") as info:
        await sender.send(room_name, new_cue("say", "From the future.", now=ahead))
    assert "clock" in info.value.reason
    assert await observer.quiet_for(0.5) == []
