"""Typed events a CueListener emits, each with a ``type`` literal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .._cue import Cue, Outcome

Transport = Literal["data", "rpc"]


@dataclass(frozen=True)
class CueReceived:
    """A cue passed the origin check and decoded; nothing has been decided yet."""

    cue: Cue
    transport: Transport
    type: Literal["cue_received"] = field(default="cue_received", init=False)


@dataclass(frozen=True)
class CueStarted:
    """The agent began acting on a speaking cue (``reply``/``say``): its speech is under way.

    ``outcome.merged_into`` names the cue whose turn carries it, if it was merged.
    """

    cue: Cue
    outcome: Outcome
    type: Literal["cue_started"] = field(default="cue_started", init=False)


@dataclass(frozen=True)
class CueApplied:
    """The agent is done with the cue: ``applied``, or ``coalesced`` into another's turn.

    For ``reply`` and ``say`` this comes when the speech has ended, and the outcome
    carries what was said and when.
    """

    cue: Cue
    outcome: Outcome
    type: Literal["cue_applied"] = field(default="cue_applied", init=False)


@dataclass(frozen=True)
class CueDropped:
    """The cue will not be acted on, or its speech was cut (``interrupted``, with what was
    said so far); ``outcome`` says why.

    ``cue`` is None when the payload did not decode to a cue at all.
    """

    outcome: Outcome
    cue: Cue | None = None
    type: Literal["cue_dropped"] = field(default="cue_dropped", init=False)


CueEvent = CueReceived | CueStarted | CueApplied | CueDropped
EventType = Literal["cue_received", "cue_started", "cue_applied", "cue_dropped"]
