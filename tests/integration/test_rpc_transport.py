"""The rpc transport: agent discovery, the agent's answer as the receipt."""

from __future__ import annotations

import pytest
from livekit import rtc

from livecue import (
    RPC_METHOD,
    Credentials,
    CueRefused,
    CueSender,
    NoAgentInRoom,
    Outcome,
    decode_cue,
    new_cue,
)

from .conftest import Participants, room_name, wire

pytestmark = pytest.mark.integration


async def test_the_agents_answer_comes_back_as_the_outcome(
    participants: Participants, sender: CueSender, credentials: Credentials
) -> None:
    room = room_name()

    async def queued(call: rtc.RpcInvocationData) -> str:
        cue = decode_cue(call.payload)
        return Outcome(cue_id=cue.id, status="queued", reason="the user is speaking").encode()

    agent = await participants.rpc_agent(room, "agent-7", respond=queued)
    cue = new_cue("reply", "A donation of $100 arrived", policy="queue")

    result = await sender.send(room, cue)

    assert result.outcome == Outcome(cue_id=cue.id, status="queued", reason="the user is speaking")
    assert (result.room, result.cue_id, result.transport, result.attempts) == (
        room,
        cue.id,
        "rpc",
        1,
    )
    [call] = agent.calls
    assert call.method == RPC_METHOD
    assert call.payload == wire(cue, room, credentials).decode()
    # server-initiated: the caller is not a participant of the room (the server names it)
    assert call.caller_identity and call.caller_identity != "agent-7"


async def test_discovery_picks_the_agent_and_ignores_standard_participants(
    participants: Participants, sender: CueSender
) -> None:
    room = room_name()
    # Both answer the method; the standard one sorts first by identity.
    user = await participants.rpc_agent(room, "aaa-user", kind=None)
    agent = await participants.rpc_agent(room, "zzz-agent")
    cue = new_cue("say", "hello")

    result = await sender.send(room, cue)

    assert result.outcome is not None and result.outcome.status == "applied"
    assert agent.cue_ids == [cue.id]
    assert user.calls == []


async def test_agent_name_narrows_discovery(
    participants: Participants, credentials: Credentials
) -> None:
    room = room_name()
    alpha = await participants.rpc_agent(room, "agent-a", agent_name="alpha")
    beta = await participants.rpc_agent(room, "agent-b", agent_name="beta")
    cue = new_cue("say", "for beta")

    async with CueSender(credentials, agent_name="beta") as s:
        await s.send(room, cue)
    async with CueSender(credentials, agent_name="gamma", max_attempts=1) as s:
        with pytest.raises(NoAgentInRoom, match="agent named 'gamma'") as caught:
            await s.send(room, new_cue("say", "for nobody"))

    assert beta.cue_ids == [cue.id]
    assert alpha.calls == []
    assert caught.value.room == room
    assert caught.value.agent_name == "gamma"


async def test_to_bypasses_discovery(participants: Participants, sender: CueSender) -> None:
    room = room_name()
    # No agent at all in the room: discovery would fail with NoAgentInRoom.
    user = await participants.rpc_agent(room, "console-7", kind=None)
    cue = new_cue("context", "the order shipped")

    result = await sender.send(room, cue, to="console-7")

    assert result.outcome == Outcome(cue_id=cue.id, status="applied")
    assert user.cue_ids == [cue.id]


async def test_a_rejected_answer_raises_cue_refused_with_the_reason(
    participants: Participants, sender: CueSender
) -> None:
    room = room_name()

    async def reject(call: rtc.RpcInvocationData) -> str:
        cue = decode_cue(call.payload)
        return Outcome(cue_id=cue.id, status="rejected", reason="unknown kind 'refund'").encode()

    agent = await participants.rpc_agent(room, respond=reject)

    with pytest.raises(CueRefused) as caught:
        await sender.send(room, new_cue("refund", data={"amount": 5}))

    assert caught.value.reason == "unknown kind 'refund'"
    assert caught.value.room == room
    assert not caught.value.retryable
    assert len(agent.calls) == 1  # refused once, not retried
