"""What LiveKit's webhooks tell the gateway: agents arriving and leaving rooms.

An agent joining releases the cues held for its room; a participant leaving
(or its connection aborting) hands the cues it had not finished to the next
agent. Webhooks are the fast path: the dispatcher still checks held rooms now
and then, and the receipt watcher notices an agent that is gone when it asks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from livekit import api

AgentJoined = Callable[[str, str], Awaitable[object]]
ParticipantLeft = Callable[[str, str], Awaitable[object]]


class LiveKitEvents:
    def __init__(self, *, agent_joined: AgentJoined, participant_left: ParticipantLeft) -> None:
        self._agent_joined = agent_joined
        self._participant_left = participant_left

    async def apply(self, event: api.WebhookEvent) -> None:
        room, who = event.room.name, event.participant
        if event.event == "participant_joined" and who.kind == api.ParticipantInfo.Kind.AGENT:
            await self._agent_joined(room, who.identity)
        elif event.event in ("participant_left", "participant_connection_aborted"):
            await self._participant_left(room, who.identity)
