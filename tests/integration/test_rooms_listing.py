"""Listing live rooms with the agents present in each."""

from __future__ import annotations

import pytest

from livecue import CueSender, RoomSummary

from .conftest import Participants, room_name

pytestmark = pytest.mark.integration


async def test_rooms_lists_live_rooms_with_their_agents(
    participants: Participants, sender: CueSender
) -> None:
    staffed, unstaffed, two_agents = room_name("lr"), room_name("lr"), room_name("lr")
    await participants.join(staffed, "caller-1")
    await participants.join(staffed, "agent-x", kind="agent")
    await participants.join(unstaffed, "caller-2")
    await participants.join(two_agents, "agent-b", kind="agent")
    await participants.join(two_agents, "agent-a", kind="agent", attributes={"lk.agent.name": "a"})

    summaries = {r.name: r for r in await sender.rooms()}

    assert summaries[staffed] == RoomSummary(staffed, 2, ("agent-x",))
    assert summaries[unstaffed] == RoomSummary(unstaffed, 1, ())
    assert summaries[two_agents] == RoomSummary(two_agents, 2, ("agent-a", "agent-b"))
