"""What the gateway stores, and the rules of a cue's life. Plain data and pure functions.

A cue's **state** says where it is on the gateway's side; its **outcome** is the
agent's latest word on it. Every outcome reaches the record through
:func:`after_outcome`, the one outcome-to-state mapping, which never lets a late
outcome replace a final one or move a cue backwards.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal

from .._scopes import SCOPES as SCOPES
from .._scopes import Scope as Scope

CueState = Literal[
    "queued",
    "sending",
    "held",
    "retrying",
    "at_agent",
    "delivered",
    "expired",
    "failed",
    "cancelled",
]
FINAL_STATES: frozenset[str] = frozenset({"delivered", "expired", "failed", "cancelled"})
CANCELLABLE: frozenset[str] = frozenset({"queued", "held", "retrying"})
"""States in which no agent has the cue yet, so it can still be cancelled."""
OPEN_STATES: frozenset[str] = frozenset({"queued", "sending", "held", "retrying", "at_agent"})

_STATE_OF_OUTCOME: dict[str, CueState] = {
    "queued": "at_agent",  # waiting in the agent's queue
    "started": "at_agent",  # the agent's speech for it is under way
    "applied": "delivered",
    "coalesced": "delivered",
    "interrupted": "delivered",
    "skipped": "delivered",
    "duplicate": "delivered",
    "expired": "expired",
    "rejected": "failed",
}
# None: handed over (a data packet) with no word from the agent yet
_RANK = {None: 0, "queued": 1, "started": 2}

OVERDUE_S = 300.0
"""A cue still at the agent this long after its expiry is closed without a final receipt."""


def state_for_outcome(outcome: str | None) -> CueState:
    """The state a cue is in once its agent has said ``outcome`` (None: nothing yet)."""
    if outcome is None:
        return "at_agent"
    return _STATE_OF_OUTCOME[outcome]


def _rank(outcome: str | None) -> int:
    return _RANK.get(outcome, 3)


@dataclass(frozen=True)
class Transition:
    state: CueState
    outcome: str | None
    reason: str | None


def after_outcome(
    state: str,
    outcome: str | None,
    new_outcome: str | None,
    reason: str | None,
    *,
    has_agent: bool = True,
) -> Transition | None:
    """Where a cue in ``state`` (latest outcome ``outcome``) goes when the agent reports
    ``new_outcome``; None when nothing may change: the cue is final already, the report
    is older news than what is known (``queued`` after ``started``, say), or it says the
    cue waits at an agent without saying which (``has_agent`` False)."""
    if state in FINAL_STATES:
        return None
    if state == "at_agent" and _rank(new_outcome) < _rank(outcome):
        return None
    if state_for_outcome(new_outcome) == "at_agent" and not has_agent:
        return None  # "waiting at an agent" needs to know which: a report that does not say
    return Transition(state_for_outcome(new_outcome), new_outcome, reason)


MAX_LOST = 3
"""A cue an agent has no record of is sent to it again, up to this many attempts in all."""


def after_agent_left(
    outcome: str | None, *, expired: bool, identity: str, lost: bool = False, attempts: int = 1
) -> Transition:
    """Where a cue at an agent goes when that agent leaves before it is done with it
    (``lost``: the agent is there but has no record of the cue — a new process with the
    same identity, or a packet that never arrived).

    Not acted on yet: delivered again to the next agent (its dedup by id keeps it once),
    unless it has expired. Acted on (its speech started): never delivered again.
    """
    what = f"the agent {identity!r} " + ("has no record of it" if lost else "left")
    if outcome == "started":
        return Transition("delivered", "interrupted", f"{what} while acting on it")
    if expired:
        return Transition("expired", "expired", f"{what} before acting on it, and it expired")
    if lost and attempts >= MAX_LOST:
        return Transition(
            "failed",
            None,
            f"{what} after {attempts} deliveries: it does not hear them (another topic?) or "
            "refuses them (sender and agent sign with different keys?)",
        )
    return Transition("queued", outcome, f"{what} before acting on it: delivering it again")


def after_overdue(outcome: str | None, identity: str | None) -> Transition:
    """A cue still at the agent long after it expired, with no final receipt."""
    if outcome == "started":
        return Transition(
            "delivered",
            "interrupted",
            f"the agent {identity!r} started it, but no word came of how its speech ended",
        )
    return Transition(
        "expired", "expired", f"the agent {identity!r} never reported acting on it before expiry"
    )


def callback_event(state: str, outcome: str | None) -> str:
    """The type of the event a final cue's callback carries: ``cue.applied``, ``cue.expired``."""
    if state == "delivered" and outcome:
        return f"cue.{outcome}"
    return f"cue.{state}"


def room_missing(room: str) -> str:
    """The reason a cue is held because its room does not exist (yet)."""
    return f"room {room!r} does not exist on the LiveKit server"


def expiry_reason(state: str, held_reason: str | None, room: str) -> str:
    """The final reason of a cue that expired before it reached an agent."""
    if state == "held" and held_reason == room_missing(room):
        return f"expired: room {room!r} did not exist on the LiveKit server before the cue expired"
    if state == "held":
        return f"expired: no agent joined room {room!r} before the cue expired"
    return "expired before delivery"


@dataclass(frozen=True)
class NewCue:
    """A cue accepted by the gateway, about to be stored."""

    id: str
    room: str
    transport: Literal["rpc", "data"]
    payload: str
    expires_at: float
    agent_name: str | None = None
    key_id: str = ""
    idempotency_key: str | None = None
    request_hash: str | None = None
    source: str = "api"
    broadcast_id: str | None = None
    callback_url: str | None = None
    resent_from: str | None = None


@dataclass(frozen=True)
class CueRecord:
    id: str
    room: str
    transport: Literal["rpc", "data"]
    agent_name: str | None
    payload: str
    state: CueState
    attempts: int
    next_attempt_at: float
    expires_at: float
    owner: str | None
    """The gateway instance sending it (state ``sending``)."""
    agent_identity: str | None
    outcome: str | None
    receipt: str | None
    """The agent's latest outcome as JSON (what was said, when, merged into which cue)."""
    reason: str | None
    key_id: str | None
    idempotency_key: str | None
    request_hash: str | None
    source: str
    broadcast_id: str | None
    created_at: float
    updated_at: float
    delivered_at: float | None
    callback_url: str | None = None
    """Where the final outcome is POSTed (signed)."""
    resent_from: str | None = None
    """The cue this one resends."""
    fetched_at: float | None = None
    """When an agent last fetched it through its catch-up call (data transport)."""

    FIELDS: ClassVar[tuple[str, ...]]

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


CueRecord.FIELDS = tuple(f.name for f in fields(CueRecord))


Source = Literal["api", "hook", "schedule", "broadcast"]


@dataclass(frozen=True)
class CueFilter:
    """Which cues to list. Every field narrows the list; None means any."""

    room: str | None = None
    state: str | None = None
    outcome: str | None = None
    source: Source | None = None
    hook: str | None = None
    """Cues made by deliveries of this hook (implies source ``hook``)."""
    created_after: float | None = None
    created_before: float | None = None
    before: tuple[float, str] | None = None
    """A page's cursor: cues older than this (created_at, id), as the last page ended."""

    def params(self) -> dict[str, Any]:
        """Query parameters: how each filter reads the ``source`` and ``broadcast_id`` columns."""
        exact = prefix = None
        broadcast: int | None = None
        if self.hook is not None:
            exact = f"hook:{self.hook}"
        elif self.source in ("hook", "schedule"):
            prefix = f"{self.source}:"
        elif self.source == "api":
            exact, broadcast = "api", 0
        elif self.source == "broadcast":
            broadcast = 1
        return {
            "room": self.room,
            "state": self.state,
            "outcome": self.outcome,
            "source_exact": exact,
            "source_prefix": prefix,
            "broadcast": broadcast,
            "created_after": self.created_after,
            "created_before": self.created_before,
            "cursor_at": self.before[0] if self.before else None,
            "cursor_id": self.before[1] if self.before else None,
        }


@dataclass(frozen=True)
class CueEvent:
    at: float
    state: str
    reason: str | None
    outcome: str | None = None


@dataclass(frozen=True)
class WatchedCue:
    """A cue at an agent, not final yet: the gateway asks that agent about it."""

    id: str
    room: str
    agent_identity: str
    outcome: str | None
    transport: Literal["rpc", "data"]
    updated_at: float


@dataclass(frozen=True)
class KeyRecord:
    id: str
    secret_hash: str
    scopes: frozenset[str]
    name: str | None
    created_at: float
    revoked_at: float | None = None
    callback_url: str | None = None
    """The default callback URL of the cues made with this key."""


@dataclass(frozen=True)
class CallbackAttempt:
    at: float
    status: int | None
    """The receiver's HTTP status, if it answered."""
    duration_ms: float
    error: str | None


@dataclass(frozen=True)
class CallbackRecord:
    id: str
    """The webhook-id: the same on every attempt."""
    cue_id: str
    url: str
    event: str
    state: Literal["pending", "sending", "delivered", "failed"]
    attempts: int
    next_attempt_at: float
    created_at: float
    updated_at: float
    history: tuple[CallbackAttempt, ...] = ()


HookResult = Literal[
    "accepted", "replay", "bad_signature", "stale", "filtered", "template_error", "invalid"
]
"""What became of a delivery to a hook: ``replay`` is a delivery id seen before."""


@dataclass(frozen=True)
class HookLogEntry:
    seq: int
    hook: str
    received_at: float
    result: HookResult
    reason: str | None
    delivery_id: str | None
    cue_id: str | None
    body: str | None
