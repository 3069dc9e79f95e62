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
class CueApplied:
    """The agent acted on the cue (``applied``) or folded it into another's turn (``coalesced``)."""

    cue: Cue
    outcome: Outcome
    type: Literal["cue_applied"] = field(default="cue_applied", init=False)


@dataclass(frozen=True)
class CueDropped:
    """The cue will not be acted on, or its speech was cut; ``outcome`` says why.

    ``cue`` is None when the payload did not decode to a cue at all.
    """

    outcome: Outcome
    cue: Cue | None = None
    type: Literal["cue_dropped"] = field(default="cue_dropped", init=False)


CueEvent = CueReceived | CueApplied | CueDropped
EventType = Literal["cue_received", "cue_applied", "cue_dropped"]
