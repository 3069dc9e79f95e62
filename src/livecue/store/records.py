"""What the gateway stores: cues and their history, keys. Plain data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from .._scopes import SCOPES as SCOPES
from .._scopes import Scope as Scope

CueState = Literal["queued", "sending", "delivered", "held", "retrying", "expired", "failed"]
FINAL_STATES: frozenset[str] = frozenset({"delivered", "expired", "failed"})

# the agent's answers that end a cue other than "delivered"
_STATE_AFTER_OUTCOME: dict[str, CueState] = {"expired": "expired", "rejected": "failed"}


def state_after_outcome(outcome: str | None) -> CueState:
    """The state a cue ends in once its agent answered ``outcome`` (an RPC answer or receipt)."""
    return _STATE_AFTER_OUTCOME.get(outcome or "", "delivered")


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
    outcome: str | None
    reason: str | None
    key_id: str | None
    idempotency_key: str | None
    request_hash: str | None
    source: str
    broadcast_id: str | None
    created_at: float
    updated_at: float
    delivered_at: float | None

    @property
    def final(self) -> bool:
        return self.state in FINAL_STATES


@dataclass(frozen=True)
class CueEvent:
    at: float
    state: str
    reason: str | None


@dataclass(frozen=True)
class KeyRecord:
    id: str
    secret_hash: str
    scopes: frozenset[str]
    name: str | None
    created_at: float
