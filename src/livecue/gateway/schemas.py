"""What the HTTP API reads and writes (separate input and output models)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from .._cue import (
    ID_PATTERN,
    KIND_PATTERN,
    MAX_AGENT_NAME,
    MAX_COALESCE_KEY,
    MAX_ID,
    MAX_KIND,
    MAX_ROOM_BYTES,
    Cue,
    Outcome,
    OutcomeStatus,
    Policy,
    check_agent_name,
    check_room,
    new_cue,
)
from .._errors import CueDecodeError
from .._scopes import SCOPES, Scope
from ..store import HookResult


def _rule(check: Callable[[Any], str]) -> Callable[[Any], str]:
    """An envelope check as a pydantic validator (its message becomes the 422's)."""

    def validate(value: Any) -> str:
        try:
            return check(value)
        except CueDecodeError as exc:
            raise ValueError(exc.reason) from None

    return validate


# LiveKit's limit is in UTF-8 bytes, so the check is the envelope's, not a character count
RoomName = Annotated[
    str,
    # 256 characters are at least 256 bytes: the character bound only documents the limit
    Field(
        min_length=1,
        max_length=MAX_ROOM_BYTES,
        description=f"A LiveKit room name: 1 to {MAX_ROOM_BYTES} bytes of UTF-8",
    ),
    AfterValidator(_rule(check_room)),
]
AgentName = Annotated[
    str, Field(min_length=1, max_length=MAX_AGENT_NAME), AfterValidator(_rule(check_agent_name))
]


class CueIn(BaseModel):
    """A cue to deliver. Only ``text`` (for reply/say/context) is required."""

    # strict, like the envelope: true is not 1, "5" is not 5
    model_config = ConfigDict(extra="forbid", strict=True)

    kind: str = Field("reply", min_length=1, max_length=MAX_KIND, pattern=f"^{KIND_PATTERN}$")
    text: str | None = None
    data: dict[str, Any] | None = None
    policy: Policy = "queue"
    coalesce_key: str | None = Field(None, max_length=MAX_COALESCE_KEY)
    ttl_s: float | None = Field(None, gt=0, le=7 * 24 * 3600)
    allow_interruptions: bool | None = None
    id: str | None = Field(None, min_length=1, max_length=MAX_ID, pattern=f"^{ID_PATTERN}$")
    transport: Literal["rpc", "data"] | None = None
    agent_name: AgentName | None = None
    callback_url: str | None = Field(None, min_length=1, max_length=2048)
    """Where the final outcome is POSTed, signed; on the gateway's allow-list. Without it,
    the API key's callback URL (if it has one)."""

    def to_cue(self, *, default_ttl_s: float, now: datetime) -> Cue:
        return new_cue(
            self.kind,
            self.text,
            data=self.data,
            policy=self.policy,
            coalesce_key=self.coalesce_key,
            ttl=self.ttl_s or default_ttl_s,
            allow_interruptions=self.allow_interruptions,
            id=self.id,
            now=now,
        )


class BroadcastIn(BaseModel):
    """A cue for many rooms: exactly one of ``rooms``, ``prefix`` or ``all``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    rooms: list[RoomName] | None = Field(None, min_length=1, max_length=10_000)
    prefix: RoomName | None = None
    all: bool = False
    cue: CueIn

    @model_validator(mode="after")
    def _one_target(self) -> BroadcastIn:
        if sum([self.rooms is not None, self.prefix is not None, self.all]) != 1:
            raise ValueError("give exactly one of rooms, prefix or all: true")
        return self


class CueAccepted(BaseModel):
    id: str
    room: str
    status: str


class BroadcastAccepted(BaseModel):
    broadcast_id: str
    cues: list[CueAccepted]


class HistoryEntry(BaseModel):
    at: datetime
    state: str
    outcome: str | None = None
    reason: str | None = None


class Receipt(BaseModel):
    """What the agent reported: for reply and say, what it said and when it spoke."""

    said: str | None = None
    speech_started_at: datetime | None = None
    speech_ended_at: datetime | None = None
    merged_into: str | None = None
    """For a coalesced cue: the cue whose turn carried it."""


class CallbackAttemptOut(BaseModel):
    at: datetime
    status: int | None
    """The receiver's HTTP status; none if it did not answer."""
    duration_ms: float
    error: str | None


class CallbackOut(BaseModel):
    """The signed POST of a final outcome, and every attempt at it."""

    id: str
    """Its ``webhook-id``: the same on every attempt."""
    url: str
    event: str
    state: Literal["pending", "sending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime | None
    history: list[CallbackAttemptOut]


class CueStatus(BaseModel):
    id: str
    room: str
    transport: Literal["rpc", "data"]
    status: str
    """The gateway's state: queued, sending, held, retrying, at_agent (not final), or
    delivered, expired, failed (final)."""
    final: bool
    outcome: str | None
    """The agent's latest word: queued, started (not final), or applied, coalesced,
    interrupted, skipped, duplicate, expired, rejected."""
    reason: str | None
    agent: str | None
    """The identity of the agent that has (or had) it."""
    receipt: Receipt | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    expires_at: datetime
    source: str
    """api, broadcast, hook:NAME or schedule:NAME."""
    resent_from: str | None = None
    callback_url: str | None = None
    cue: dict[str, Any]
    history: list[HistoryEntry]
    callbacks: list[CallbackOut] = []


class CueSummary(BaseModel):
    """A cue in a list: its state and outcome, without its history."""

    id: str
    room: str
    kind: str
    text: str | None
    status: str
    final: bool
    outcome: str | None
    reason: str | None
    agent: str | None
    said: str | None
    source: str
    attempts: int
    created_at: datetime
    updated_at: datetime
    resent_from: str | None = None


class CuePage(BaseModel):
    cues: list[CueSummary]
    next_cursor: str | None
    """Pass as ``cursor`` for the next (older) page; none on the last page."""


class HookOut(BaseModel):
    name: str
    scheme: str
    room: str
    """The room template."""
    filter: str | None
    transport: str | None
    callback_url: str | None


class HookDeliveryOut(BaseModel):
    seq: int
    received_at: datetime
    result: HookResult
    reason: str | None
    delivery_id: str | None
    cue_id: str | None
    body: str | None = None
    """Only when asked for (``?body=true``, admin scope)."""


class HookDeliveryPage(BaseModel):
    deliveries: list[HookDeliveryOut]
    next_before: int | None
    """Pass as ``before`` for older deliveries; none on the last page."""


class TargetOut(BaseModel):
    room: str | None
    prefix: str | None
    all: bool


class ScheduleOut(BaseModel):
    name: str
    cron: str
    timezone: str
    target: TargetOut
    last_tick: datetime | None
    next_ticks: list[datetime]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str | None = Field(None, max_length=200)
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES))
    callback_url: str | None = Field(None, min_length=1, max_length=2048)


class KeyOut(BaseModel):
    id: str
    name: str | None
    scopes: list[str]
    created_at: datetime
    revoked_at: datetime | None
    callback_url: str | None


class KeyCreated(KeyOut):
    key: str
    """The whole key (``lck_...``): shown this once, never stored."""


class RoomOut(BaseModel):
    name: str
    num_participants: int
    agents: list[str]


class OutcomeIn(BaseModel):
    """An agent's report on a cue (the fields of its outcome, without the id)."""

    model_config = ConfigDict(extra="forbid")

    status: OutcomeStatus
    reason: str | None = Field(None, max_length=1000)
    said: str | None = Field(None, max_length=4000)
    speech_started_at: datetime | None = None
    speech_ended_at: datetime | None = None
    merged_into: str | None = Field(
        None, min_length=1, max_length=MAX_ID, pattern=f"^{ID_PATTERN}$"
    )
    agent: str | None = Field(None, min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")
    """The identity of the reporting agent (LiveKit identities hold no control characters)."""

    def to_outcome(self, cue_id: str) -> Outcome:
        if self.merged_into == cue_id:
            raise ValueError("merged_into: a cue cannot be merged into itself")
        return Outcome(cue_id=cue_id, **self.model_dump(exclude={"agent"}))


class PendingOut(BaseModel):
    room: str
    cues: list[dict[str, Any]]


class HookAccepted(BaseModel):
    status: Literal["accepted", "duplicate", "ignored"]
    id: str | None = None
    room: str | None = None


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
