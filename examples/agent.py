"""A voice agent that reacts to the outside world through livecue.

Run it as a worker against your LiveKit server (LIVEKIT_URL, LIVEKIT_API_KEY,
LIVEKIT_API_SECRET in the environment or a .env file)::

    python examples/agent.py start

With OPENAI_API_KEY set it uses OpenAI for the model and the voice; without it,
a scripted offline model answers and espeak-ng speaks (``examples/espeak_tts.py``;
``make setup`` installs espeak-ng). Its words are also published on lk.transcription.
Then, from anywhere::

    livecue send ROOM "A donation of $100 just came in"
"""

from __future__ import annotations

import logging
import os
from typing import Any

from livekit.agents import Agent, AgentServer, AgentSession, JobContext, cli
from livekit.agents.voice.room_io import RoomOptions

from livecue import Cue
from livecue.agent import CueApplied, CueDropped, attach

logger = logging.getLogger("livecue-demo")

# One room at a time, and never "at full capacity" because other programs use the
# CPU: the default load check refuses jobs on a busy 2-core laptop.
server = AgentServer(num_idle_processes=1, port=0, load_fnc=lambda: 0.0)


def _session() -> AgentSession[Any]:
    """A session with OpenAI when a key is set, else the offline model and voice."""
    if os.environ.get("OPENAI_API_KEY"):
        from livekit.plugins import openai

        return AgentSession(llm=openai.LLM(model="gpt-4o-mini"), tts=openai.TTS())
    from espeak_tts import EspeakTTS
    from offline_llm import OfflineLLM

    # vad=None: this agent has no one to listen to in the demo (audio_input is off)
    return AgentSession(llm=OfflineLLM(), tts=EspeakTTS(), vad=None)


@server.rtc_session()
async def entrypoint(ctx: JobContext) -> None:
    session = _session()
    await session.start(
        Agent(instructions="You are a friendly assistant for a charity's supporters."),
        room=ctx.room,
        room_options=RoomOptions(audio_input=False, audio_output=True, text_input=True),
    )

    # Cues must be signed with the key derived from this worker's LIVEKIT_API_SECRET (or with
    # LIVECUE_SECRET, when set). LIVECUE_ACCEPT_LEGACY=1 also accepts the seed's unsigned
    # {"action": "trigger_reply"} packets on topic external_trigger.
    legacy = os.environ.get("LIVECUE_ACCEPT_LEGACY", "").lower() in ("1", "true", "yes")
    cues = attach(session, ctx.room, accept_legacy=legacy)

    def log_applied(event: CueApplied) -> None:
        logger.info("cue %s %s (%s)", event.cue.id, event.outcome.status, event.cue.kind)

    def log_dropped(event: CueDropped) -> None:
        logger.info(
            "cue %s %s: %s", event.outcome.cue_id, event.outcome.status, event.outcome.reason
        )

    cues.on("cue_applied", log_applied)
    cues.on("cue_dropped", log_dropped)

    async def crm_update(cue: Cue) -> None:
        # A custom kind: the author decides what it means. Here: note it, then say so.
        stage = (cue.data or {}).get("stage", "unknown")
        session.say(f"Good news: your account moved to the {stage} stage.")

    cues.register("crm_update", crm_update)


if __name__ == "__main__":
    cli.run_app(server)
