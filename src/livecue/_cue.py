"""The cue envelope, version 1: build, encode, decode, validate, limits.

A cue is a small UTF-8 JSON object of at most 15 KiB encoded, LiveKit's limit
for a reliable data packet and for an RPC payload. The seed's legacy payload
(``{"action": "trigger_reply", "message": ..., "timestamp": ...}``) decodes to a
``reply`` cue with policy ``interrupt`` so old senders keep working.

Pure: no I/O, and the clock comes in as ``now`` where it matters.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from . import _signing
from ._errors import CueDecodeError, CueTooLarge, SignatureError

MAX_CUE_BYTES = 15 * 1024
"""LiveKit's reliable data packet and RPC payload limit, in bytes."""

DEFAULT_TTL_S = 60.0
DEFAULT_TOPIC = "livecue"
LEGACY_TOPIC = "external_trigger"
RPC_METHOD = "livecue.cue"

BUILTIN_KINDS = frozenset({"reply", "say", "context", "interrupt"})
_KINDS_WITH_TEXT = frozenset({"reply", "say", "context"})

Policy = Literal["interrupt", "queue", "skip_if_busy"]
OutcomeStatus = Literal[
    "applied",
    "queued",
    "coalesced",
    "expired",
    "duplicate",
    "skipped",
    "interrupted",
    "rejected",
]
FINAL_STATUSES: frozenset[str] = frozenset(
    {"applied", "coalesced", "expired", "duplicate", "skipped", "interrupted", "rejected"}
)


def _utc(dt: datetime) -> datetime:
    if dt.tzinfo is None:
        raise ValueError("timestamps must carry a time zone (RFC 3339)")
    try:
        return dt.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("timestamp is out of range") from None


def format_time(dt: datetime) -> str:
    """RFC 3339 in UTC with millisecond precision and a ``Z``."""
    return _utc(dt).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Cue(BaseModel):
    """A validated version-1 cue. Build one with :func:`new_cue`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    v: Literal[1] = 1
    id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:\-]+$")
    kind: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.\-]*$")
    text: str | None = None
    data: dict[str, Any] | None = None
    policy: Policy = "queue"
    coalesce_key: str | None = Field(default=None, max_length=128)
    expires_at: datetime
    created_at: datetime
    allow_interruptions: bool | None = None

    @field_validator("expires_at", "created_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return _utc(value)

    @model_validator(mode="after")
    def _text_when_needed(self) -> Cue:
        if self.kind in _KINDS_WITH_TEXT and not (self.text and self.text.strip()):
            raise ValueError(f"a {self.kind!r} cue needs a non-empty 'text'")
        return self

    @model_validator(mode="after")
    def _encodable(self) -> Cue:
        # What is accepted must be sendable: no NaN/Infinity, lone surrogates or non-JSON data.
        try:
            _canonical(self.to_dict())
        except (TypeError, ValueError, RecursionError):
            raise ValueError("the cue cannot be encoded as UTF-8 JSON") from None
        return self

    def is_expired(self, now: datetime) -> bool:
        return _utc(now) >= self.expires_at

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"v": self.v, "id": self.id, "kind": self.kind}
        for name in ("text", "data", "coalesce_key", "allow_interruptions"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        out["policy"] = self.policy
        out["created_at"] = format_time(self.created_at)
        out["expires_at"] = format_time(self.expires_at)
        return out


def new_cue_id() -> str:
    return uuid.uuid4().hex


def new_cue(
    kind: str,
    text: str | None = None,
    *,
    data: dict[str, Any] | None = None,
    policy: Policy = "queue",
    coalesce_key: str | None = None,
    ttl: float = DEFAULT_TTL_S,
    allow_interruptions: bool | None = None,
    id: str | None = None,
    now: datetime | None = None,
) -> Cue:
    """Build a cue with sender defaults: a fresh id, ``created_at`` now, expiry now + ``ttl``.

    Raises :class:`CueDecodeError` naming the first invalid field.
    """
    if not (ttl > 0 and math.isfinite(ttl)):
        raise CueDecodeError(f"ttl must be positive and finite, got {ttl}")
    created = _utc(now) if now is not None else utcnow()
    try:
        expires = created + timedelta(seconds=ttl)
    except OverflowError:
        raise CueDecodeError(f"ttl {ttl} puts the expiry out of range") from None
    return _validate(
        {
            "id": id or new_cue_id(),
            "kind": kind,
            "text": text,
            "data": data,
            "policy": policy,
            "coalesce_key": coalesce_key,
            "allow_interruptions": allow_interruptions,
            "created_at": created,
            "expires_at": expires,
        }
    )


def _canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode()


def encode_cue(cue: Cue, *, secret: str | bytes | None = None) -> bytes:
    """The cue's wire bytes, signed when ``secret`` is given.

    Raises :class:`CueTooLarge` over :data:`MAX_CUE_BYTES`, before anything is sent.
    """
    payload = cue.to_dict()
    if secret is not None:
        payload["sig"] = _signing.sign(_canonical(payload), secret)
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()
    if len(raw) > MAX_CUE_BYTES:
        raise CueTooLarge(len(raw), MAX_CUE_BYTES)
    return raw


def _describe(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "cue"
    return f"{where}: {first['msg']}"


def _validate(payload: dict[str, Any]) -> Cue:
    try:
        return Cue.model_validate(payload)
    except ValidationError as exc:
        raise CueDecodeError(f"invalid cue ({_describe(exc)})") from None


def _legacy_cue(payload: dict[str, Any], raw: bytes, now: datetime) -> Cue:
    message = payload.get("message")
    if not isinstance(message, str) or not message.strip():
        raise CueDecodeError("legacy trigger has no 'message' text")
    ttl = timedelta(seconds=DEFAULT_TTL_S)
    created, expires = now, now + ttl
    stamp = payload.get("timestamp")
    if isinstance(stamp, str):
        try:
            parsed = _utc(datetime.fromisoformat(stamp.replace("Z", "+00:00")))
            created, expires = parsed, parsed + ttl
        except (ValueError, OverflowError):
            pass  # an unreadable timestamp counts as "sent now"
    return _validate(
        {
            # The seed sends no id; the payload's hash makes an identical retry a duplicate.
            "id": "legacy-" + hashlib.sha256(raw).hexdigest()[:32],
            "kind": "reply",
            "text": message,
            "policy": "interrupt",
            "created_at": created,
            "expires_at": expires,
        }
    )


def decode_cue(
    raw: bytes | str,
    *,
    secret: str | bytes | None = None,
    now: datetime | None = None,
) -> Cue:
    """Decode and validate wire bytes; the only error raised is :class:`CueDecodeError`.

    With ``secret`` set a valid signature is mandatory (:class:`SignatureError`).
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if len(data) > MAX_CUE_BYTES:
        raise CueDecodeError(f"payload is {len(data)} bytes, over the {MAX_CUE_BYTES}-byte limit")
    try:
        payload = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CueDecodeError("payload is not UTF-8 JSON") from None
    if not isinstance(payload, dict):
        raise CueDecodeError("payload is not a JSON object")

    if "v" not in payload and payload.get("action") == "trigger_reply":
        if secret is not None:
            raise SignatureError("legacy triggers cannot be signed and a signature is required")
        return _legacy_cue(payload, data, _utc(now) if now is not None else utcnow())

    version = payload.get("v")
    if version != 1 or isinstance(version, bool):
        raise CueDecodeError(f"unsupported envelope version {version!r} (this agent reads v1)")
    if secret is not None:
        signature = payload.pop("sig", None)
        try:
            _signing.verify(_canonical(payload), signature, secret)
        # NaN/Infinity, lone surrogates or too deep nesting cannot be canonicalised: no match
        except (ValueError, RecursionError):
            raise SignatureError("the cue's signature does not match") from None
    return _validate(payload)


class Outcome(BaseModel):
    """What the agent did with a cue: the RPC answer and the payload of events."""

    model_config = ConfigDict(frozen=True)

    cue_id: str
    status: OutcomeStatus
    reason: str | None = None

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def encode(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def decode(cls, raw: str) -> Outcome:
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise CueDecodeError(f"invalid outcome from the agent ({_describe(exc)})") from None
