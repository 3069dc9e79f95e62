"""When to act on a cue: a pure decision from the cue and the session's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._cue import Cue

Decision = Literal["act", "interrupt_and_act", "enqueue", "skip"]

BUSY_AGENT_STATES = frozenset({"thinking", "speaking"})


@dataclass(frozen=True)
class Activity:
    """A snapshot of the conversation, read from the AgentSession."""

    agent_state: str
    user_state: str
    speech_active: bool = False
    """A speech is scheduled or playing (ours or the session's own)."""

    @property
    def agent_busy(self) -> bool:
        return self.speech_active or self.agent_state in BUSY_AGENT_STATES

    @property
    def user_speaking(self) -> bool:
        return self.user_state == "speaking"

    @property
    def idle(self) -> bool:
        return not self.agent_busy and not self.user_speaking


def decide(cue: Cue, activity: Activity, *, queue_empty: bool) -> Decision:
    """What to do with ``cue`` now.

    ``context`` says nothing and ``interrupt`` is itself the stop, so both act
    at once whatever their policy. Everything else follows its policy:
    ``interrupt`` cuts the agent off if it is busy, ``skip_if_busy`` acts only
    when nobody is talking, and ``queue`` waits its turn behind earlier cues.
    """
    if cue.kind in ("context", "interrupt"):
        return "act"
    if cue.policy == "interrupt":
        return "interrupt_and_act" if activity.agent_busy else "act"
    if cue.policy == "skip_if_busy":
        return "act" if activity.idle else "skip"
    return "act" if activity.idle and queue_empty else "enqueue"
