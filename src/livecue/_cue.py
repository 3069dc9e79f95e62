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

from ._errors import CueDecodeError, CueTooLarge, SignatureError
from ._signing import SigningKey, as_key

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
    "queued",
    "started",
    "applied",
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
"""Outcomes after which the agent does nothing more with a cue. ``queued`` (waiting at the
agent) and ``started`` (its speech is under way) are followed by one of these."""

CLOCK_SKEW_S = 30.0
"""How far in the future a cue's ``created_at`` may lie (the sender's clock running ahead)."""

MAX_SAID_CHARS = 2000
"""A receipt carries at most this much of what the agent said."""

_POLICIES: frozenset[str] = frozenset(get_args(Policy))
_STATUSES: frozenset[str] = frozenset(get_args(OutcomeStatus))
# The rules of names, written once: the HTTP schemas reuse these constants.
ID_PATTERN = r"[A-Za-z0-9._:\-]+"
KIND_PATTERN = r"[a-z][a-z0-9_.\-]*"
MAX_ID = 64
MAX_KIND = 64
MAX_COALESCE_KEY = 128
MAX_ROOM_BYTES = 256
"""livekit-server's limit on a room name (``limit.max_room_name_length``), in UTF-8 bytes."""
MAX_AGENT_NAME = 128
MAX_DATA_DEPTH = 32
"""How deeply a cue's ``data`` may nest."""

_ID_RE = re.compile(ID_PATTERN)
_ID_RULE = "may only contain letters A-Z a-z, digits and . _ : -"
_KIND_RE = re.compile(KIND_PATTERN)
_KIND_RULE = "must be a lowercase letter followed by lowercase letters, digits, '_', '.' or '-'"
_MAX_ID = MAX_ID
_MAX_KIND = MAX_KIND
_MAX_COALESCE_KEY = MAX_COALESCE_KEY
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
    if _depth(data) > MAX_DATA_DEPTH:
        raise _invalid("data", f"must not nest more than {MAX_DATA_DEPTH} levels deep")
    # What is accepted must be sendable, and signable: no NaN/Infinity, lone surrogates,
    # non-JSON values or keys that cannot be sorted.
    try:
        _canonical(data)
    except (TypeError, ValueError, RecursionError):
        raise _invalid("data", "cannot be encoded as UTF-8 JSON") from None
    return data


def _depth(value: object, limit: int = MAX_DATA_DEPTH + 1) -> int:
    """Nesting depth of a JSON value, counted no further than ``limit`` (no recursion)."""
    deepest, level = 0, [(value, 1)]
    while level:
        item, depth = level.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, depth)
            if depth >= limit:
                return depth
            children = item.values() if isinstance(item, dict) else item
            level.extend((child, depth + 1) for child in children)
    return deepest


def check_room(name: object) -> str:
    """A room name by livekit-server's rules (non-empty, at most 256 UTF-8 bytes), and
    without control characters; raises :class:`CueDecodeError` naming the problem."""
    if not isinstance(name, str):
        raise CueDecodeError(f"room: must be a string, not {_type_name(name)}")
    if not name:
        raise CueDecodeError("room: must not be empty")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise CueDecodeError("room: is not valid UTF-8 (a lone surrogate)") from None
    if size > MAX_ROOM_BYTES:
        raise CueDecodeError(f"room: must be at most {MAX_ROOM_BYTES} bytes in UTF-8, not {size}")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise CueDecodeError("room: must not contain control characters")
    return name


def check_agent_name(name: object) -> str:
    """An agent name (LiveKit's ``lk.agent.name``): non-empty UTF-8, at most 128 characters."""
    if not isinstance(name, str):
        raise CueDecodeError(f"agent_name: must be a string, not {_type_name(name)}")
    if not name or len(name) > MAX_AGENT_NAME:
        raise CueDecodeError(f"agent_name: must be 1 to {MAX_AGENT_NAME} characters")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise CueDecodeError("agent_name: is not valid UTF-8 (a lone surrogate)") from None
    return name


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


Secret = str | bytes | SigningKey


def sign_object(payload: dict[str, Any], secret: Secret) -> dict[str, Any]:
    """``payload`` with ``kid`` and ``sig`` added: a signed JSON object (cues, status calls)."""
    key = as_key(secret)
    signed = {k: v for k, v in payload.items() if k != "sig"}
    signed["kid"] = key.key_id
    signed["sig"] = key.sign(_canonical(signed))
    return signed


def verify_object(payload: dict[str, Any], secret: Secret) -> None:
    """Check (and remove) ``payload``'s ``sig``; raises :class:`SignatureError`."""
    signature = payload.pop("sig", None)
    try:
        message = _canonical(payload)
    # NaN/Infinity, lone surrogates or too deep nesting cannot be canonicalised: no match
    except (ValueError, TypeError, RecursionError):
        raise SignatureError("the cue's signature does not match") from None
    as_key(secret).verify(message, payload.get("kid"), signature)


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def encode_cue(cue: Cue, *, secret: Secret | None = None, room: str | None = None) -> bytes:
    """The cue's wire bytes, signed when ``secret`` is given.

    ``room`` binds the cue to one room: an agent elsewhere refuses it, so a signed
    cue copied out of one room cannot be replayed into another.
    Raises :class:`CueTooLarge` over :data:`MAX_CUE_BYTES`, before anything is sent.
    """
    payload = cue.to_dict()
    if room is not None:
        payload["room"] = room
    if secret is not None:
        payload = sign_object(payload, secret)
    raw = _dumps(payload)
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


def _load_object(data: bytes, what: str) -> dict[str, Any]:
    if len(data) > MAX_CUE_BYTES:
        raise CueDecodeError(f"{what} is {len(data)} bytes, over the {MAX_CUE_BYTES}-byte limit")
    try:
        payload = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise CueDecodeError(f"{what} is not UTF-8 JSON") from None
    if not isinstance(payload, dict):
        raise CueDecodeError(f"{what} is not a JSON object")
    return payload


def is_legacy(raw: bytes | str) -> bool:
    """Whether ``raw`` is the seed's ``{"action": "trigger_reply", ...}`` payload."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    try:
        payload = _load_object(data, "payload")
    except CueDecodeError:
        return False
    return "v" not in payload and payload.get("action") == "trigger_reply"


def decode_cue(
    raw: bytes | str,
    *,
    secret: Secret | None = None,
    now: datetime | None = None,
    room: str | None = None,
    legacy: bool = True,
) -> Cue:
    """Decode and validate wire bytes; the only error raised is :class:`CueDecodeError`.

    - ``secret``: a valid signature made with it is mandatory (:class:`SignatureError`).
    - ``room``: the receiving room; a cue bound to another room is refused.
    - ``legacy``: accept the seed's unsigned payload (never together with ``secret``).
    """
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    payload = _load_object(data, "payload")

    if "v" not in payload and payload.get("action") == "trigger_reply":
        if secret is not None:
            raise SignatureError("legacy triggers cannot be signed and a signature is required")
        if not legacy:
            raise CueDecodeError("legacy triggers are not accepted here")
        return _legacy_cue(payload, data, _utc(now) if now is not None else utcnow())

    version = payload.get("v")
    if type(version) is not int or version != 1:
        raise _unsupported_version(version)
    if secret is not None:
        verify_object(payload, secret)
    bound = payload.get("room")
    if bound is not None and not isinstance(bound, str):
        raise _invalid("room", f"must be a string, not {_type_name(bound)}")
    if bound is not None and room is not None and bound != room:
        raise CueDecodeError(f"the cue is for room {bound!r}, not this room ({room!r})")
    return _from_wire(payload)


def check_clock(cue: Cue, now: datetime, *, tolerance_s: float = CLOCK_SKEW_S) -> None:
    """Refuse a cue made in the future: the sender's clock is ahead by more than ``tolerance_s``.

    Such a cue would also live longer than its sender meant.
    """
    ahead = (cue.created_at - _utc(now)).total_seconds()
    if ahead > tolerance_s:
        raise CueDecodeError(
            f"created_at is {ahead:.0f} s in the future (the clock-skew tolerance is "
            f"{tolerance_s:.0f} s): check the sender's clock"
        )


# --------------------------------------------------------------------------- outcomes


def _outcome_problem(payload: dict[str, Any]) -> str | None:
    cue_id, status = payload.get("cue_id"), payload.get("status")
    if not isinstance(cue_id, str):
        return f"cue_id: must be a string, not {_type_name(cue_id)}"
    if not isinstance(status, str) or status not in _STATUSES:
        return "status: must be one of " + ", ".join(repr(s) for s in get_args(OutcomeStatus))
    for name in ("reason", "said", "merged_into"):
        value = payload.get(name)
        if value is not None and not isinstance(value, str):
            return f"{name}: must be a string or null, not {_type_name(value)}"
    return None


@_frozen
@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What the agent did with a cue: the RPC answer, the receipt and the payload of events.

    ``queued`` and ``started`` are not final: the cue's record follows it to one of
    :data:`FINAL_STATUSES`. For ``reply`` and ``say`` cues the final receipt says what the
    agent said (as far as it got, when cut off) and when that speech started and ended.
    """

    cue_id: str
    status: OutcomeStatus
    reason: str | None = None
    said: str | None = None
    """The words of the speech this cue caused (its turn's, when coalesced)."""
    speech_started_at: datetime | None = None
    speech_ended_at: datetime | None = None
    merged_into: str | None = None
    """For ``coalesced`` (and a merged cue's ``started``): the cue whose turn carried it."""

    def __post_init__(self) -> None:
        problem = _outcome_problem(
            {
                "cue_id": self.cue_id,
                "status": self.status,
                "reason": self.reason,
                "said": self.said,
                "merged_into": self.merged_into,
            }
        )
        if problem is not None:
            raise CueDecodeError(f"invalid outcome ({problem})")
        set_field = object.__setattr__
        if self.said is not None and len(self.said) > MAX_SAID_CHARS:
            set_field(self, "said", self.said[: MAX_SAID_CHARS - 1] + "…")
        for name in ("speech_started_at", "speech_ended_at"):
            value = getattr(self, name)
            if value is not None:
                set_field(self, name, _check_time(name, value))

    @property
    def final(self) -> bool:
        return self.status in FINAL_STATUSES

    def replace(self, **changes: Any) -> Outcome:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without the fields that are not set."""
        out: dict[str, Any] = {"cue_id": self.cue_id, "status": self.status}
        for name in ("reason", "said", "merged_into"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        for name in ("speech_started_at", "speech_ended_at"):
            value = getattr(self, name)
            if value is not None:
                out[name] = format_time(value)
        return out

    def encode(self) -> str:
        """Compact JSON, without the fields that are not set.

        Raises ``ValueError`` if a field holds a lone surrogate (not encodable as UTF-8).
        """
        text = json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("the outcome cannot be encoded as UTF-8 JSON") from None
        return text

    @classmethod
    def from_dict(cls, payload: object) -> Outcome:
        """Read a decoded outcome object; invalid input raises :class:`CueDecodeError`.

        Fields this version does not know are ignored.
        """
        if not isinstance(payload, dict):
            raise CueDecodeError("invalid outcome from the agent (not a JSON object)")
        for name in ("cue_id", "status"):
            if name not in payload:
                raise CueDecodeError(
                    f"invalid outcome from the agent ({name}: the field is required)"
                )
        problem = _outcome_problem(payload)
        if problem is not None:
            raise CueDecodeError(f"invalid outcome from the agent ({problem})")
        fields = ("cue_id", "status", "reason", "said", "merged_into")
        times = ("speech_started_at", "speech_ended_at")
        try:
            return cls(
                **{k: payload[k] for k in fields if k in payload},
                **{k: payload[k] for k in times if payload.get(k) is not None},
            )
        except CueDecodeError as exc:
            raise CueDecodeError(f"invalid outcome from the agent: {exc.reason}") from None

    @classmethod
    def decode(cls, raw: str | bytes) -> Outcome:
        """Read an outcome's JSON; invalid input raises :class:`CueDecodeError`."""
        try:
            payload = json.loads(raw)
        except (ValueError, RecursionError):
            raise CueDecodeError("invalid outcome from the agent (not JSON)") from None
        return cls.from_dict(payload)
