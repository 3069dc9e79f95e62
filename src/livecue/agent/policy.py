"""When to act on a cue: a pure decision from the cue and the session's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._cue import Cue

Decision = Literal["act", "interrupt_and_act", "enqueue", "skip"]

BUSY_AGENT_STATES = frozenset({"thinking", "speaking"})

DEFAULT_RESPONSE_WINDOW_S = 1.0
"""How long a queued cue leaves the floor to the other side once someone stops talking.

Measured on a voice session (``python -m bench voice``, 2 x 10 runs): a user who
answers half a second after hearing the agent's question is heard by the agent's
voice activity detector 0.42 to 0.53 s after the agent's speech ended (it notices
speech 85 to 165 ms after it starts). One second also covers an answer that comes about a
second after the question, and costs a cue that nobody answers one second.
"""

AGENT_REPLY_START_S = 2.0
"""How long the agent's own answer to the user may take to begin, beyond the window: the
session's end-of-turn delay (0.5 s by default) and the model's first words. Measured at
0.8 to 1.0 s after the user stops on a quiet machine and up to 1.9 s under load; a queued
cue that acted before it would be cut off by the answer."""


@dataclass(frozen=True)
class Activity:
    """A snapshot of the conversation, read from the AgentSession."""

    agent_state: str
    user_state: str
    speech_active: bool = False
    """A speech is scheduled or playing (ours or the session's own)."""
    response_wait_s: float = 0.0
    """How long the response window after the last speech stays open (see :func:`response_wait`)."""

    @property
    def agent_busy(self) -> bool:
        return self.speech_active or self.agent_state in BUSY_AGENT_STATES

    @property
    def user_speaking(self) -> bool:
        return self.user_state == "speaking"

    @property
    def idle(self) -> bool:
        return not self.agent_busy and not self.user_speaking

    @property
    def ready(self) -> bool:
        """Idle, and nobody has a turn to take: the moment for a queued cue."""
        return self.idle and self.response_wait_s <= 0


def response_wait(
    now: float,
    *,
    agent_stopped_at: float | None,
    user_stopped_at: float | None,
    window_s: float,
    reply_start_s: float = AGENT_REPLY_START_S,
) -> float:
    """Seconds until a queued cue may act, counted from the last time anyone stopped talking.

    Right after the agent's own speech ends the user is often about to answer (it may
    have asked a question); right after the user stops, the agent is about to answer
    them. Either way the cue leaves the floor to them for ``window_s`` — and after the
    user, for ``reply_start_s`` more until the agent has spoken since: its answer takes
    that long to begin. Whoever starts talking meanwhile makes the conversation busy, and
    when they stop the window opens again. 0.0 when the cue may act now; times are
    seconds on one monotonic clock.
    """
    if window_s <= 0:
        return 0.0
    until = []
    if agent_stopped_at is not None:
        until.append(agent_stopped_at + window_s)
    if user_stopped_at is not None:
        answered = agent_stopped_at is not None and agent_stopped_at > user_stopped_at
        until.append(user_stopped_at + window_s + (0.0 if answered else reply_start_s))
    return max(0.0, max(until) - now) if until else 0.0


def decide(cue: Cue, activity: Activity, *, queue_empty: bool) -> Decision:
    """What to do with ``cue`` now.

    ``context`` says nothing and ``interrupt`` is itself the stop, so both act
    at once whatever their policy. Everything else follows its policy:
    ``interrupt`` cuts the agent off if it is busy, ``skip_if_busy`` acts only
    when nobody is talking, and ``queue`` waits its turn behind earlier cues and
    for the response window after the last speech.
    """
    if cue.kind in ("context", "interrupt"):
        return "act"
    if cue.policy == "interrupt":
        return "interrupt_and_act" if activity.agent_busy else "act"
    if cue.policy == "skip_if_busy":
        return "act" if activity.idle else "skip"
    return "act" if activity.ready and queue_empty else "enqueue"
