"""Which rooms are live and which agents are in them, from LiveKit's webhooks.

Webhooks are the fast path; the dispatcher still checks held rooms with
ListParticipants now and then, since a webhook can be lost.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from livekit import api

AgentJoined = Callable[[str, str], Awaitable[None]]

MAX_ROOMS = 100_000


@dataclass
class RoomRegistry:
    on_agent_joined: AgentJoined | None = None
    rooms: dict[str, set[str]] = field(default_factory=dict)
    """room name → identities of the agents in it."""

    async def apply(self, event: api.WebhookEvent) -> None:
        room = event.room.name
        if event.event == "room_started":
            self.rooms.setdefault(room, set())
        elif event.event == "room_finished":
            self.rooms.pop(room, None)
        elif event.event == "participant_joined":
            if room not in self.rooms and len(self.rooms) >= MAX_ROOMS:
                self.rooms.clear()  # "room finished" webhooks were lost; start over
            agents = self.rooms.setdefault(room, set())
            if event.participant.kind == api.ParticipantInfo.Kind.AGENT:
                agents.add(event.participant.identity)
                if self.on_agent_joined is not None:
                    await self.on_agent_joined(room, event.participant.identity)
        elif event.event in ("participant_left", "participant_connection_aborted"):
            self.rooms.get(room, set()).discard(event.participant.identity)

    def agents(self, room: str) -> set[str]:
        return set(self.rooms.get(room, ()))
