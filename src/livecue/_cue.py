"""The cue envelope, version 1: build, encode, decode, validate, limits.

A cue is a small UTF-8 JSON object of at most 15 KiB encoded, LiveKit's limit
for a reliable data packet and for an RPC payload. The seed's legacy payload
(``{"action": "trigger_reply", "message": ..., "timestamp": ...}``) decodes to a
``reply`` cue with policy ``interrupt`` so old senders keep working.

Pure: no I/O, and the clock comes in as ``now`` where it matters.

Validation is written by hand, stdlib only, on purpose: every ``livecue send``
process imports this module, and pydantic added some 50 ms to the command's
start-up (its import, its plugin loader, building the models). The rules are
strict: no type coercion (``1`` is not ``true``, ``"1"`` is not ``1``), and
timestamps are RFC 3339 strings with a time zone. The gateway keeps pydantic for
its own HTTP models.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import re
import uuid
from dataclasses import FrozenInstanceError, dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, TypeVar, get_args

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

_POLICIES: frozenset[str] = frozenset(get_args(Policy))
_STATUSES: frozenset[str] = frozenset(get_args(OutcomeStatus))
_ID_RE = re.compile(r"[A-Za-z0-9._:\-]+")
_ID_RULE = "may only contain letters A-Z a-z, digits and . _ : -"
_KIND_RE = re.compile(r"[a-z][a-z0-9_.\-]*")
_KIND_RULE = "must be a lowercase letter followed by lowercase letters, digits, '_', '.' or '-'"
_MAX_ID = 64
_MAX_KIND = 64
_MAX_COALESCE_KEY = 128
# RFC 3339 date-time: "T" or a space (either case), optional fraction, "Z" or ±hh:mm.
# The offset is optional here only so that a missing one gets its own message.
_RFC3339_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?",
    re.ASCII,
)
# Wire fields in the order they are checked (and the first problem reported).
_FIELDS = (
    "v",
    "id",
    "kind",
    "text",
    "data",
    "policy",
    "coalesce_key",
    "expires_at",
    "created_at",
    "allow_interruptions",
)
_REQUIRED = ("id", "kind", "expires_at", "created_at")


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


# --------------------------------------------------------------------------- validation


def _invalid(field: str, problem: str) -> CueDecodeError:
    return CueDecodeError(f"invalid cue ({field}: {problem})")


def _unsupported_version(version: object) -> CueDecodeError:
    return CueDecodeError(f"unsupported envelope version {version!r} (this agent reads v1)")


def _type_name(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _check_name(field: str, value: object, pattern: re.Pattern[str], limit: int, rule: str) -> None:
    if not isinstance(value, str):
        raise _invalid(field, f"must be a string, not {_type_name(value)}")
    if not value:
        raise _invalid(field, "must not be empty")
    if len(value) > limit:
        raise _invalid(field, f"must be at most {limit} characters, not {len(value)}")
    if pattern.fullmatch(value) is None:
        raise _invalid(field, rule)


def _check_text(field: str, value: object) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise _invalid(field, f"must be a string or null, not {_type_name(value)}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _invalid(field, "cannot be encoded as UTF-8 (a lone surrogate)") from None


def _check_data(value: object) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _invalid("data", f"must be a JSON object or null, not {_type_name(value)}")
    if not all(isinstance(key, str) for key in value):
        raise _invalid("data", "the object's keys must be strings")
    data = dict(value)
    # What is accepted must be sendable, and signable: no NaN/Infinity, lone surrogates,
    # non-JSON values or keys that cannot be sorted.
    try:
        _canonical(data)
    except (TypeError, ValueError, RecursionError):
        raise _invalid("data", "cannot be encoded as UTF-8 JSON") from None
    return data


def _parse_time(field: str, text: str) -> datetime:
    match = _RFC3339_RE.fullmatch(text)
    if match is None:
        raise _invalid(field, "must be an RFC 3339 timestamp, like 2024-01-02T03:04:05Z")
    year, month, day, hour, minute, second, fraction, zulu, sign, off_h, off_m = match.groups()
    if zulu is None and sign is None:
        raise _invalid(field, "timestamps must carry a time zone (RFC 3339)")
    zone = timezone.utc
    if sign is not None:
        if int(off_h) > 23 or int(off_m) > 59:
            raise _invalid(field, "the UTC offset is out of range")
        offset = timedelta(hours=int(off_h), minutes=int(off_m))
        zone = timezone(-offset if sign == "-" else offset)
    micro = int((fraction or "")[:6].ljust(6, "0"))  # finer than microseconds is cut off
    try:
        return datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, zone
        )
    except ValueError:
        raise _invalid(field, "is not a valid date and time") from None


def _check_time(field: str, value: object) -> datetime:
    if isinstance(value, str):
        value = _parse_time(field, value)
    elif not isinstance(value, datetime):
        raise _invalid(field, f"must be an RFC 3339 timestamp, not {_type_name(value)}")
    try:
        return _utc(value)
    except ValueError as exc:
        raise _invalid(field, str(exc)) from None


_Frozen = TypeVar("_Frozen")


class _FrozenFieldError(FrozenInstanceError, ValueError):
    """Assigning to a field of a frozen cue or outcome.

    A :class:`dataclasses.FrozenInstanceError` that is also a ``ValueError``, which is
    what assignment raised when these were pydantic models.
    """


def _frozen(cls: type[_Frozen]) -> type[_Frozen]:
    def refuse_set(self: object, name: str, value: object) -> None:
        raise _FrozenFieldError(f"cannot assign to field {name!r}: {type(self).__name__} is frozen")

    def refuse_delete(self: object, name: str) -> None:
        raise _FrozenFieldError(f"cannot delete field {name!r}: {type(self).__name__} is frozen")

    cls.__setattr__ = refuse_set  # type: ignore[method-assign]
    cls.__delattr__ = refuse_delete  # type: ignore[method-assign]
    return cls


# --------------------------------------------------------------------------- the cue


@_frozen
@dataclass(frozen=True, kw_only=True)
class Cue:
    """A validated version-1 cue. Build one with :func:`new_cue`.

    Constructing one (or :meth:`replace`) validates every field and raises
    :class:`CueDecodeError` naming the first invalid one. Timestamps may be given as
    aware datetimes or RFC 3339 strings; they are kept in UTC.
    """

    v: Literal[1] = 1
    id: str
    kind: str
    text: str | None = None
    data: dict[str, Any] | None = None
    policy: Policy = "queue"
    coalesce_key: str | None = None
    expires_at: datetime
    created_at: datetime
    allow_interruptions: bool | None = None

    def __post_init__(self) -> None:
        if type(self.v) is not int or self.v != 1:
            raise _unsupported_version(self.v)
        _check_name("id", self.id, _ID_RE, _MAX_ID, _ID_RULE)
        _check_name("kind", self.kind, _KIND_RE, _MAX_KIND, _KIND_RULE)
        _check_text("text", self.text)
        if self.kind in _KINDS_WITH_TEXT and not (self.text and self.text.strip()):
            raise _invalid("text", f"a {self.kind!r} cue needs a non-empty text")
        set_field = object.__setattr__
        set_field(self, "data", _check_data(self.data))
        if not isinstance(self.policy, str) or self.policy not in _POLICIES:
            raise _invalid("policy", "must be one of 'interrupt', 'queue' or 'skip_if_busy'")
        _check_text("coalesce_key", self.coalesce_key)
        if self.coalesce_key is not None and len(self.coalesce_key) > _MAX_COALESCE_KEY:
            raise _invalid(
                "coalesce_key",
                f"must be at most {_MAX_COALESCE_KEY} characters, not {len(self.coalesce_key)}",
            )
        set_field(self, "expires_at", _check_time("expires_at", self.expires_at))
        set_field(self, "created_at", _check_time("created_at", self.created_at))
        if self.allow_interruptions is not None and type(self.allow_interruptions) is not bool:
            raise _invalid(
                "allow_interruptions",
                f"must be true, false or null, not {_type_name(self.allow_interruptions)}",
            )

    def replace(self, **changes: Any) -> Cue:
        """A copy with ``changes`` applied, validated like a new cue."""
        return dataclasses.replace(self, **changes)

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
    return Cue(
        id=id or new_cue_id(),
        kind=kind,
        text=text,
        data=data,
        policy=policy,
        coalesce_key=coalesce_key,
        allow_interruptions=allow_interruptions,
        created_at=created,
        expires_at=expires,
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


def _from_wire(payload: dict[str, Any]) -> Cue:
    """A cue from a decoded JSON object; fields this version does not know are ignored."""
    for name in _REQUIRED:
        if name not in payload:
            raise _invalid(name, "the field is required")
    return Cue(**{name: payload[name] for name in _FIELDS if name in payload})


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
    return Cue(
        # The seed sends no id; the payload's hash makes an identical retry a duplicate.
        id="legacy-" + hashlib.sha256(raw).hexdigest()[:32],
        kind="reply",
        text=message,
        policy="interrupt",
        created_at=created,
        expires_at=expires,
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
    if type(version) is not int or version != 1:
        raise _unsupported_version(version)
    if secret is not None:
        signature = payload.pop("sig", None)
        try:
            _signing.verify(_canonical(payload), signature, secret)
        # NaN/Infinity, lone surrogates or too deep nesting cannot be canonicalised: no match
        except (ValueError, RecursionError):
            raise SignatureError("the cue's signature does not match") from None
    return _from_wire(payload)


# --------------------------------------------------------------------------- outcomes


def _outcome_problem(cue_id: object, status: object, reason: object) -> str | None:
    if not isinstance(cue_id, str):
        return f"cue_id: must be a string, not {_type_name(cue_id)}"
    if not isinstance(status, str) or status not in _STATUSES:
        return "status: must be one of " + ", ".join(repr(s) for s in get_args(OutcomeStatus))
    if reason is not None and not isinstance(reason, str):
        return f"reason: must be a string or null, not {_type_name(reason)}"
    return None


@_frozen
@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What the agent did with a cue: the RPC answer and the payload of events."""

    cue_id: str
    status: OutcomeStatus
    reason: str | None = None

    def __post_init__(self) -> None:
        problem = _outcome_problem(self.cue_id, self.status, self.reason)
        if problem is not None:
            raise CueDecodeError(f"invalid outcome ({problem})")

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def encode(self) -> str:
        """Compact JSON, without a null ``reason``.

        Raises ``ValueError`` if a field holds a lone surrogate (not encodable as UTF-8).
        """
        out = {"cue_id": self.cue_id, "status": self.status}
        if self.reason is not None:
            out["reason"] = self.reason
        text = json.dumps(out, separators=(",", ":"), ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the outcome cannot be encoded as UTF-8 JSON") from None
        return text

    @classmethod
    def decode(cls, raw: str) -> Outcome:
        """Read an outcome; invalid input raises :class:`CueDecodeError`.

        Fields this version does not know are ignored.
        """
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            raise CueDecodeError("invalid outcome from the agent (not JSON)") from None
        if not isinstance(payload, dict):
            raise CueDecodeError("invalid outcome from the agent (not a JSON object)")
        for name in ("cue_id", "status"):
            if name not in payload:
                raise CueDecodeError(
                    f"invalid outcome from the agent ({name}: the field is required)"
                )
        cue_id, status, reason = payload["cue_id"], payload["status"], payload.get("reason")
        problem = _outcome_problem(cue_id, status, reason)
        if problem is not None:
            raise CueDecodeError(f"invalid outcome from the agent ({problem})")
        return cls(cue_id=cue_id, status=status, reason=reason)
