"""Property tests of the cue envelope: round-trips, and no error but CueDecodeError escapes."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from livecue import MAX_CUE_BYTES, Cue, CueDecodeError, CueTooLarge, decode_cue, encode_cue, new_cue

SECRET = "property-secret"
TEXT_KINDS = ("reply", "say", "context")
BUILTIN_KINDS = (*TEXT_KINDS, "interrupt")
ID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
KIND_RE = re.compile(r"[a-z][a-z0-9_.\-]{0,63}")
NOW = datetime(2024, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)

# --- strategies -----------------------------------------------------------------------------

kinds = st.one_of(st.sampled_from(BUILTIN_KINDS), st.from_regex(KIND_RE, fullmatch=True))
cue_ids = st.from_regex(ID_RE, fullmatch=True)
policies = st.sampled_from(["interrupt", "queue", "skip_if_busy"])
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
data_dicts = st.dictionaries(st.text(max_size=15), json_values, max_size=5)
zones = st.sampled_from(
    [
        timezone.utc,
        timezone(timedelta(hours=5, minutes=30)),
        timezone(timedelta(hours=-8)),
        timezone(timedelta(hours=14)),
    ]
)
instants = st.datetimes(
    min_value=datetime(1970, 1, 1), max_value=datetime(9000, 1, 1), timezones=zones
)


@st.composite
def valid_cues(draw: st.DrawFn) -> Cue:
    kind = draw(kinds)
    text: str | None
    if kind in TEXT_KINDS:
        text = draw(st.text(min_size=1).filter(lambda s: s.strip() != ""))
    else:
        text = draw(st.none() | st.text())
    return new_cue(
        kind,
        text,
        data=draw(st.none() | data_dicts),
        policy=draw(policies),
        coalesce_key=draw(st.none() | st.text(max_size=128)),
        ttl=draw(st.floats(min_value=0.001, max_value=10**7)),
        allow_interruptions=draw(st.none() | st.booleans()),
        id=draw(st.none() | cue_ids),
        now=draw(instants),
    )


def _to_ms(dt: datetime) -> datetime:
    """The wire carries milliseconds; anything finer is cut off (not rounded)."""
    return dt.replace(microsecond=dt.microsecond - dt.microsecond % 1000)


def _canonical(payload: dict[str, Any]) -> bytes:
    """The signing input, written from the design's words rather than taken from src/."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _sign(payload: dict[str, Any], secret: str) -> dict[str, Any]:
    digest = hmac.new(secret.encode(), _canonical(payload), hashlib.sha256).hexdigest()
    return {**payload, "sig": "v1=" + digest}


def _decode_or_none(raw: bytes | str, **options: Any) -> Cue | None:
    """Decode; CueDecodeError (or a subclass) becomes None and anything else fails the test."""
    try:
        cue = decode_cue(raw, now=NOW, **options)
    except CueDecodeError as exc:
        assert isinstance(exc.reason, str) and exc.reason
        return None
    _check_invariants(cue)
    return cue


def _check_invariants(cue: Cue) -> None:
    """What every decoded cue promises, whatever bytes it came from."""
    assert isinstance(cue, Cue)
    assert cue.v == 1
    assert ID_RE.fullmatch(cue.id)
    assert KIND_RE.fullmatch(cue.kind)
    if cue.kind in TEXT_KINDS:
        assert cue.text is not None and cue.text.strip()
    assert cue.policy in ("interrupt", "queue", "skip_if_busy")
    assert cue.created_at.utcoffset() == timedelta(0)
    assert cue.expires_at.utcoffset() == timedelta(0)
    # A cue that was accepted must also be sendable again: re-encoding either works and
    # gives the same cue back, or fails with livecue's own size error.
    try:
        raw = encode_cue(cue)
    except CueTooLarge:
        return
    assert decode_cue(raw).to_dict() == cue.to_dict()


# --- round-trips ----------------------------------------------------------------------------


@given(valid_cues())
def test_encode_decode_round_trip(cue: Cue) -> None:
    try:
        raw = encode_cue(cue)
    except CueTooLarge as exc:
        assert exc.size > MAX_CUE_BYTES
        return
    assert len(raw) <= MAX_CUE_BYTES
    decoded = decode_cue(raw)
    expected = cue.replace(created_at=_to_ms(cue.created_at), expires_at=_to_ms(cue.expires_at))
    assert decoded == expected
    # Encoding is stable: what was decoded encodes to the very same bytes.
    assert encode_cue(decoded) == raw


@given(valid_cues())
def test_signed_round_trip(cue: Cue) -> None:
    try:
        raw = encode_cue(cue, secret=SECRET)
    except CueTooLarge:
        return
    decoded = decode_cue(raw, secret=SECRET)
    assert decoded.to_dict() == decode_cue(raw).to_dict()
    assert decoded.id == cue.id and decoded.kind == cue.kind and decoded.text == cue.text
    assert decoded.data == cue.data
    # The signature the sender wrote is the one an independent HMAC over the canonical
    # form computes, so any conforming implementation can check it.
    payload = json.loads(raw)
    sig = payload.pop("sig")
    assert _sign(payload, SECRET)["sig"] == sig


@given(valid_cues(), st.text(min_size=1, max_size=20))
def test_signed_cue_needs_the_same_secret(cue: Cue, other: str) -> None:
    try:
        raw = encode_cue(cue, secret=SECRET)
    except CueTooLarge:
        return
    if other == SECRET:
        return
    assert _decode_or_none(raw, secret=other) is None


@given(valid_cues())
def test_cue_signed_independently_decodes(cue: Cue) -> None:
    payload = _sign(cue.to_dict(), SECRET)
    raw = json.dumps(payload, ensure_ascii=False).encode()  # spaces, other key order
    if len(raw) > MAX_CUE_BYTES:
        return
    assert decode_cue(raw, secret=SECRET).to_dict() == cue.to_dict()


# --- nothing but CueDecodeError escapes -----------------------------------------------------


@given(st.binary(max_size=512))
def test_any_bytes_decode_or_raise_cue_decode_error(raw: bytes) -> None:
    _decode_or_none(raw)
    _decode_or_none(raw, secret=SECRET)


@given(st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=200))
def test_any_text_decodes_or_raises_cue_decode_error(raw: str) -> None:
    # Includes lone surrogates, which are not encodable as UTF-8.
    _decode_or_none(raw)
    _decode_or_none(raw, secret=SECRET)


FIELD_NAMES = [
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
    "sig",
    "action",
    "message",
    "timestamp",
]
wild_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),  # NaN and infinities too: json.dumps writes them as NaN / Infinity
    st.text(alphabet=st.characters(codec=None, exclude_categories=())),
    st.sampled_from(
        [1, "1", "reply", "trigger_reply", "2024-01-02T03:04:05Z", "v1=", "queue", "x" * 65]
    ),
)
wild_values = st.recursive(
    wild_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(FIELD_NAMES) | st.text(max_size=5), inner, max_size=4),
    ),
    max_leaves=25,
)
json_ish = st.one_of(
    wild_values,
    st.dictionaries(st.sampled_from(FIELD_NAMES), wild_values, max_size=len(FIELD_NAMES)),
)


@given(json_ish)
def test_any_json_decodes_or_raises_cue_decode_error(value: Any) -> None:
    raw = json.dumps(value).encode()
    _decode_or_none(raw)
    _decode_or_none(raw, secret=SECRET)


@st.composite
def near_valid_payloads(draw: st.DrawFn) -> dict[str, Any]:
    """A valid cue's dict with one field removed, retyped or given an arbitrary value."""
    payload = draw(valid_cues()).to_dict()
    field = draw(st.sampled_from(FIELD_NAMES[:10]))
    how = draw(st.sampled_from(["remove", "replace", "wild", "poison"]))
    if how == "poison":
        # Values JSON can carry but UTF-8 JSON cannot send on again (lone surrogates, NaN),
        # in fields that otherwise leave the cue valid.
        payload["kind"] = "custom.kind"
        field = draw(st.sampled_from(["text", "data", "coalesce_key"]))
        bad = draw(st.sampled_from(["\ud800", "a\udfffb", float("nan"), float("-inf")]))
        payload[field] = {"k": [bad]} if field == "data" else bad
    elif how == "remove":
        payload.pop(field, None)
    elif how == "replace":
        payload[field] = draw(
            st.sampled_from(
                [
                    None,
                    True,
                    0,
                    2,
                    -1.5,
                    "",
                    " ",
                    "1",
                    "x" * 65,
                    "x" * 129,
                    "Reply",
                    "2024-01-02T03:04:05",  # naive
                    "2024-01-02T03:04:05+01:00",
                    "0001-01-01T00:00:00+01:00",
                    "9999-12-31T23:59:59-01:00",
                    [],
                    {},
                    ["reply"],
                    {"a": 1},
                ]
            )
        )
    else:
        payload[field] = draw(wild_values)
    return payload


@given(near_valid_payloads(), st.booleans())
def test_near_valid_payload_decodes_or_raises_cue_decode_error(
    payload: dict[str, Any], signed: bool
) -> None:
    if signed:
        # NaN and lone surrogates cannot be canonicalised: such a payload goes unsigned
        with contextlib.suppress(ValueError):
            payload = _sign(payload, SECRET)
    raw = json.dumps(payload).encode()
    _decode_or_none(raw)
    _decode_or_none(raw, secret=SECRET)
