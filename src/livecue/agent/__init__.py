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
from .policy import Activity, Decision, decide
from .queue import PendingCues, Turn, TurnLimiter

__all__ = [
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
]
