"""What the HTTP API reads and writes (separate input and output models)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .._cue import Cue, OutcomeStatus, Policy, new_cue


class CueIn(BaseModel):
    """A cue to deliver. Only ``text`` (for reply/say/context) is required."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field("reply", min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.\-]*$")
    text: str | None = None
    data: dict[str, Any] | None = None
    policy: Policy = "queue"
    coalesce_key: str | None = Field(None, max_length=128)
    ttl_s: float | None = Field(None, gt=0, le=7 * 24 * 3600)
    allow_interruptions: bool | None = None
    id: str | None = Field(None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")
    transport: Literal["rpc", "data"] | None = None
    agent_name: str | None = Field(None, max_length=128)

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

    model_config = ConfigDict(extra="forbid")

    rooms: list[str] | None = Field(None, min_length=1, max_length=10_000)
    prefix: str | None = Field(None, min_length=1)
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
    reason: str | None = None


class CueStatus(BaseModel):
    id: str
    room: str
    transport: Literal["rpc", "data"]
    status: str
    outcome: str | None
    reason: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    expires_at: datetime
    cue: dict[str, Any]
    history: list[HistoryEntry]


class RoomOut(BaseModel):
    name: str
    num_participants: int
    agents: list[str]


class OutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: OutcomeStatus
    reason: str | None = Field(None, max_length=1000)


class PendingOut(BaseModel):
    room: str
    cues: list[dict[str, Any]]


class HookAccepted(BaseModel):
    status: Literal["accepted", "duplicate", "ignored"]
    id: str | None = None
    room: str | None = None


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=timezone.utc)
