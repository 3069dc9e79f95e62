"""Run a real AgentSession with livecue attached, in a room of a local server.

Text-only by default; give ``tts`` (the agent speaks audio) and ``vad`` (it listens
to its user's microphone) for a voice session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession
from livekit.agents.tts import TTS
from livekit.agents.types import NOT_GIVEN
from livekit.agents.vad import VAD
from livekit.agents.voice.room_io import RoomOptions

from harness.livekit_server import LiveKitServer
from harness.participants import join, wait_until_reachable
from livecue.agent import CueApplied, CueDropped, CueListener, CueReceived, CueStarted, attach
from offline_llm import OfflineLLM


@dataclass
class RunningAgent:
    room: rtc.Room
    session: AgentSession[Any]
    cues: CueListener
    llm: OfflineLLM
    events: list[CueReceived | CueStarted | CueApplied | CueDropped] = field(default_factory=list)

    def outcomes(self, cue_id: str) -> list[str]:
        """Every outcome the agent announced for ``cue_id``, in order (started, applied...)."""
        return [
            e.outcome.status
            for e in self.events
            if isinstance(e, (CueStarted, CueApplied, CueDropped)) and e.outcome.cue_id == cue_id
        ]

    async def stop(self) -> None:
        await self.cues.aclose()
        await self.session.aclose()
        await self.room.disconnect()


async def start_agent(
    server: LiveKitServer,
    room: str,
    *,
    identity: str = "agent",
    user_identity: str = "user",
    word_delay_s: float = 0.0,
    agent_name: str | None = None,
    tts: TTS | None = None,
    vad: VAD | None = None,
    **listener_options: Any,
) -> RunningAgent:
    attributes = {"lk.agent.name": agent_name} if agent_name else None
    rtc_room = await join(server, room, identity, kind="agent", attributes=attributes)
    model = OfflineLLM(word_delay_s=word_delay_s)
    # vad=None: no voice activity detection at all unless one is given (the SDK's
    # default would load one even for a text-only session)
    session: AgentSession[Any] = AgentSession(llm=model, tts=tts or NOT_GIVEN, vad=vad)
    await session.start(
        Agent(instructions="You are a helpful voice assistant."),
        room=rtc_room,
        room_options=RoomOptions(
            audio_input=vad is not None,
            audio_output=tts is not None,
            text_input=False,
            participant_identity=user_identity,
            close_on_disconnect=False,
        ),
    )
    await wait_until_reachable(server, rtc_room, room, identity)
    # the worker's own LiveKit key pair: cues are checked with the key derived from it
    listener_options.setdefault("api_key", server.api_key)
    listener_options.setdefault("api_secret", server.api_secret)
    running = RunningAgent(rtc_room, session, attach(session, rtc_room, **listener_options), model)
    for event in ("cue_received", "cue_started", "cue_applied", "cue_dropped"):
        running.cues.on(event, running.events.append)
    return running
