"""The data transport: SendData to the room, exact bytes, topic, destination."""

from __future__ import annotations

import pytest

from livecue import DEFAULT_TOPIC, Credentials, CueSender, UsageError, new_cue

from .conftest import Participants, room_name, wire

pytestmark = pytest.mark.integration


async def test_listener_receives_the_exact_encoded_cue_on_the_livecue_topic(
    participants: Participants, sender: CueSender, credentials: Credentials
) -> None:
    room = room_name()
    listener = await participants.listener(room)
    cue = new_cue("say", "The store closes in ten minutes", data={"minutes": 10})

    result = await sender.send(room, cue, transport="data")

    [packet] = await listener.wait_for(1)
    assert packet.data == wire(cue, room, credentials)  # signed, bound to the room
    assert packet.topic == DEFAULT_TOPIC == "livecue"
    assert packet.participant is None  # sent by the server, not by a participant
    assert (result.room, result.cue_id, result.transport) == (room, cue.id, "data")
    assert result.attempts == 1
    assert result.outcome is None  # no receipt on the data transport
    assert result.ok


async def test_custom_topic_from_the_call_and_from_the_sender(
    participants: Participants, credentials: Credentials
) -> None:
    room = room_name()
    listener = await participants.listener(room)
    first, second = new_cue("context", "one"), new_cue("context", "two")

    async with CueSender(credentials, transport="data", topic="ops-alerts") as s:
        await s.send(room, first)
        await s.send(room, second, topic="per-call")

    packets = await listener.wait_for(2)
    assert [(p.topic, p.data) for p in packets] == [
        ("ops-alerts", wire(first, room, credentials)),
        ("per-call", wire(second, room, credentials)),
    ]


async def test_to_limits_delivery_to_one_identity(
    participants: Participants, sender: CueSender, credentials: Credentials
) -> None:
    room = room_name()
    alice = await participants.listener(room, "alice")
    bob = await participants.listener(room, "bob")
    private, fence = new_cue("reply", "for alice only"), new_cue("context", "for everyone")

    await sender.send(room, private, transport="data", to="alice")
    # A packet to everyone after the private one: once bob has it, he would have had
    # the private one too (reliable packets arrive in order).
    await sender.send(room, fence, transport="data")

    private_wire, fence_wire = wire(private, room, credentials), wire(fence, room, credentials)
    assert [p.data for p in await alice.wait_for(2)] == [private_wire, fence_wire]
    assert [p.data for p in await bob.wait_for(1)] == [fence_wire]


async def test_only_agents_receive_cues_never_other_participants(
    participants: Participants, sender: CueSender, credentials: Credentials
) -> None:
    room = room_name()
    agent = await participants.listener(room, "agent-1")
    caller = await participants.listener(room, "caller", kind=None)
    first, fence = new_cue("say", "for the agent"), new_cue("context", "fence")

    await sender.send(room, first, transport="data")
    await sender.send(room, fence, transport="data", to="caller")  # addressed to it alone

    assert [p.data for p in await agent.wait_for(1)] == [wire(first, room, credentials)]
    # the caller gets the packet addressed to it, and never the cue meant for the agents
    assert [p.data for p in await caller.wait_for(1)] == [wire(fence, room, credentials)]


async def test_agent_name_sends_to_that_agent_only(
    participants: Participants, credentials: Credentials
) -> None:
    room = room_name()
    alpha = await participants.listener(room, "agent-alpha", kind="agent", agent_name="alpha")
    beta = await participants.listener(room, "agent-beta", kind="agent", agent_name="beta")
    for_beta, fence = new_cue("say", "beta only"), new_cue("context", "for everyone")

    async with CueSender(credentials, transport="data", agent_name="beta") as s:
        result = await s.send(room, for_beta)
    async with CueSender(credentials, transport="data") as s:
        await s.send(room, fence)  # after the targeted one: alpha would have had it by now

    assert result.identity == "agent-beta"
    assert [p.data for p in await beta.wait_for(2)] == [
        wire(for_beta, room, credentials),
        wire(fence, room, credentials),
    ]
    assert [p.data for p in await alpha.wait_for(1)] == [wire(fence, room, credentials)]


async def test_a_topic_on_the_rpc_transport_is_a_usage_error(sender: CueSender) -> None:
    with pytest.raises(UsageError, match="data transport only"):
        await sender.send("any-room", new_cue("say", "hi"), transport="rpc", topic="x")
