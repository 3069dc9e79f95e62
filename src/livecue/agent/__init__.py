"""The agent side: ``attach(session, room)`` makes a running AgentSession act on cues.

::

    from livecue.agent import attach

    cues = attach(session, ctx.room)
    cues.on("cue_applied", lambda ev: logger.info("acted on %s", ev.cue.id))
"""

from __future__ import annotations

from .events import CueApplied, CueDropped, CueEvent, CueReceived, CueStarted
from .ledger import CueLedger
from .listener import CueHandler, CueListener, attach
from .policy import DEFAULT_RESPONSE_WINDOW_S, Activity, Decision, decide, response_wait
from .queue import PendingCues, Turn, TurnLimiter

__all__ = [
    "DEFAULT_RESPONSE_WINDOW_S",
    "Activity",
    "CueApplied",
    "CueDropped",
    "CueEvent",
    "CueHandler",
    "CueLedger",
    "CueListener",
    "CueReceived",
    "CueStarted",
    "Decision",
    "PendingCues",
    "Turn",
    "TurnLimiter",
    "attach",
    "decide",
    "response_wait",
]
