"""The cue envelope's rules (DESIGN §3), one example at a time."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cue_wire import NOW, wire

from livecue import (
    MAX_CUE_BYTES,
    Cue,
    CueDecodeError,
    CueTooLarge,
    SignatureError,
    decode_cue,
    encode_cue,
    new_cue,
)

SECRET = "livecue-test-secret"


def reason_of(raw: bytes | str, **options: Any) -> str:
    with pytest.raises(CueDecodeError) as info:
        decode_cue(raw, now=NOW, **options)
    return info.value.reason


# --- kinds and text -------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["reply", "say", "context"])
@pytest.mark.parametrize("text", [None, "", "   ", "\n\t "])
def test_kinds_that_speak_need_text(kind: str, text: str | None) -> None:
    with pytest.raises(CueDecodeError, match="text"):
        new_cue(kind, text, now=NOW)
    assert "text" in reason_of(wire(kind=kind, text=text))


def test_missing_text_is_refused_on_the_wire() -> None:
    assert "text" in reason_of(wire(text=...))


@pytest.mark.parametrize("kind", ["interrupt", "crm.update", "x", "a-b_c.d9"])
def test_interrupt_and_custom_kinds_need_no_text(kind: str) -> None:
    cue = new_cue(kind, now=NOW)
    assert cue.kind == kind
    assert cue.text is None
    assert decode_cue(wire(kind=kind, text=...)).kind == kind


def test_custom_kind_carries_data() -> None:
    cue = new_cue("crm.update", data={"customer": {"id": 7, "tags": ["vip"]}}, now=NOW)
    assert decode_cue(encode_cue(cue)).data == {"customer": {"id": 7, "tags": ["vip"]}}


@pytest.mark.parametrize("kind", ["", "Reply", "1abc", "_x", "a b", "a/b", "é", "x" * 65])
def test_bad_kind_names_are_refused(kind: str) -> None:
    assert "kind" in reason_of(wire(kind=kind))


def test_kind_of_64_chars_is_fine() -> None:
    assert decode_cue(wire(kind="k" * 64, text=...)).kind == "k" * 64


# --- version --------------------------------------------------------------------------------


@pytest.mark.parametrize("version", [2, 0, "1", True, None, [1], 1.5])
def test_unknown_versions_are_refused_naming_the_version(version: object) -> None:
    reason = reason_of(wire(v=version))
    assert "version" in reason
    assert repr(version) in reason


def test_missing_version_is_refused() -> None:
    assert "version" in reason_of(wire(v=...))


# --- id -------------------------------------------------------------------------------------


def test_id_of_64_chars_is_fine() -> None:
    assert decode_cue(wire(id="a" * 64)).id == "a" * 64
    assert new_cue("interrupt", id="b" * 64, now=NOW).id == "b" * 64


def test_id_over_64_chars_is_refused() -> None:
    assert "id" in reason_of(wire(id="a" * 65))
    with pytest.raises(CueDecodeError, match="id"):
        new_cue("interrupt", id="b" * 65, now=NOW)


@pytest.mark.parametrize("bad_id", ["", "a b", "a/b", "ä", 7, None])
def test_malformed_ids_are_refused(bad_id: object) -> None:
    assert "id" in reason_of(wire(id=bad_id))


def test_uuid_and_ulid_shaped_ids_are_fine() -> None:
    for good in ("01HV6M3Z8Q4X0T1B2C3D4E5F6G", "3f2b1c9e-8a7d-4e6f-9b0a-1c2d3e4f5a6b", "a:b.c_d-e"):
        assert decode_cue(wire(id=good)).id == good


# --- other fields ---------------------------------------------------------------------------


@pytest.mark.parametrize("policy", ["interrupt", "queue", "skip_if_busy"])
def test_policies(policy: str) -> None:
    assert decode_cue(wire(policy=policy)).policy == policy


def test_policy_defaults_to_queue() -> None:
    assert decode_cue(wire(policy=...)).policy == "queue"
    assert new_cue("say", "hi", now=NOW).policy == "queue"


@pytest.mark.parametrize("policy", ["now", "", "Queue", None, 1])
def test_unknown_policy_is_refused(policy: object) -> None:
    assert "policy" in reason_of(wire(policy=policy))


def test_coalesce_key_up_to_128_chars() -> None:
    assert decode_cue(wire(coalesce_key="k" * 128)).coalesce_key == "k" * 128
    assert "coalesce_key" in reason_of(wire(coalesce_key="k" * 129))


def test_data_must_be_an_object() -> None:
    assert "data" in reason_of(wire(data=[1, 2]))
    assert "data" in reason_of(wire(data="x"))


def test_unknown_fields_are_ignored() -> None:
    cue = decode_cue(wire(future_field={"x": 1}))
    assert "future_field" not in cue.to_dict()


def test_optional_fields_are_left_out_of_the_wire_form() -> None:
    payload = json.loads(encode_cue(new_cue("interrupt", id="c", now=NOW)))
    assert payload == {
        "v": 1,
        "id": "c",
        "kind": "interrupt",
        "policy": "queue",
        "created_at": "2024-01-02T03:04:05.000Z",
        "expires_at": "2024-01-02T03:05:05.000Z",
    }


def test_every_field_reaches_the_wire() -> None:
    cue = new_cue(
        "reply",
        "A donation of $100 arrived",
        data={"amount": 100},
        policy="skip_if_busy",
        coalesce_key="donations",
        ttl=30,
        allow_interruptions=False,
        id="cue-9",
        now=NOW,
    )
    assert json.loads(encode_cue(cue)) == {
        "v": 1,
        "id": "cue-9",
        "kind": "reply",
        "text": "A donation of $100 arrived",
        "data": {"amount": 100},
        "policy": "skip_if_busy",
        "coalesce_key": "donations",
        "allow_interruptions": False,
        "created_at": "2024-01-02T03:04:05.000Z",
        "expires_at": "2024-01-02T03:04:35.000Z",
    }


# --- timestamps -----------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["created_at", "expires_at"])
def test_naive_timestamps_are_refused_on_the_wire(field: str) -> None:
    reason = reason_of(wire(**{field: "2024-01-02T03:04:05"}))
    assert field in reason
    assert "time zone" in reason


@pytest.mark.parametrize("field", ["created_at", "expires_at"])
def test_missing_timestamps_are_refused(field: str) -> None:
    assert field in reason_of(wire(**{field: ...}))


@pytest.mark.parametrize("field", ["created_at", "expires_at"])
def test_timestamps_out_of_range_in_utc_are_refused(field: str) -> None:
    assert field in reason_of(wire(**{field: "0001-01-01T00:00:00+01:00"}))
    assert field in reason_of(wire(**{field: "9999-12-31T23:59:59-01:00"}))


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        new_cue("interrupt", now=datetime(2024, 1, 2, 3, 4, 5))
    cue = new_cue("interrupt", now=NOW)
    with pytest.raises(ValueError, match="time zone"):
        cue.is_expired(datetime(2024, 1, 2, 3, 4, 5))


def test_offsets_are_normalised_to_utc() -> None:
    cue = decode_cue(wire(created_at="2024-01-02T08:34:05.000+05:30"))
    assert cue.created_at == NOW
    assert cue.created_at.utcoffset() == timedelta(0)
    assert json.loads(encode_cue(cue))["created_at"] == "2024-01-02T03:04:05.000Z"


def test_wire_times_carry_milliseconds_cut_not_rounded() -> None:
    cue = new_cue("interrupt", now=datetime(2024, 1, 2, 3, 4, 5, 999999, tzinfo=timezone.utc))
    payload = json.loads(encode_cue(cue))
    assert payload["created_at"] == "2024-01-02T03:04:05.999Z"
    assert payload["expires_at"] == "2024-01-02T03:05:05.999Z"


def test_is_expired_at_the_boundary() -> None:
    cue = new_cue("interrupt", ttl=10, now=NOW)
    expiry = NOW + timedelta(seconds=10)
    assert cue.expires_at == expiry
    assert not cue.is_expired(NOW)
    assert not cue.is_expired(expiry - timedelta(microseconds=1))
    assert cue.is_expired(expiry)
    assert cue.is_expired(expiry + timedelta(microseconds=1))


def test_is_expired_compares_instants_not_wall_clocks() -> None:
    cue = new_cue("interrupt", ttl=10, now=NOW)
    plus_two = timezone(timedelta(hours=2))
    # 05:04:14+02:00 is 03:04:14Z, one second before expiry.
    assert not cue.is_expired(datetime(2024, 1, 2, 5, 4, 14, tzinfo=plus_two))
    assert cue.is_expired(datetime(2024, 1, 2, 5, 4, 15, tzinfo=plus_two))


def test_an_expired_cue_still_decodes() -> None:
    # Expiry is the agent's decision (outcome "expired"), not a decoding error.
    cue = decode_cue(wire(expires_at="2000-01-01T00:00:00Z"))
    assert cue.is_expired(NOW)


# --- new_cue --------------------------------------------------------------------------------


def test_new_cue_defaults() -> None:
    cue = new_cue("say", "Hi", now=NOW)
    assert cue.v == 1
    assert cue.created_at == NOW
    assert cue.expires_at == datetime(2024, 1, 2, 3, 5, 5, tzinfo=timezone.utc)
    assert cue.policy == "queue"
    assert cue.data is None and cue.coalesce_key is None and cue.allow_interruptions is None
    assert 1 <= len(cue.id) <= 64


def test_new_cue_ids_are_fresh() -> None:
    ids = {new_cue("interrupt", now=NOW).id for _ in range(1000)}
    assert len(ids) == 1000


def test_new_cue_without_now_uses_the_clock() -> None:
    before = datetime.now(timezone.utc)
    cue = new_cue("interrupt")
    after = datetime.now(timezone.utc)
    assert before <= cue.created_at <= after
    assert cue.expires_at - cue.created_at == timedelta(seconds=60)


def test_new_cue_ttl() -> None:
    cue = new_cue("interrupt", ttl=2.5, now=NOW)
    assert cue.expires_at == NOW + timedelta(seconds=2.5)


def test_new_cue_converts_now_to_utc() -> None:
    minus_five = timezone(-timedelta(hours=5))
    cue = new_cue("interrupt", now=datetime(2024, 1, 1, 22, 4, 5, tzinfo=minus_five))
    assert cue.created_at == NOW
    assert cue.created_at.utcoffset() == timedelta(0)


@pytest.mark.parametrize("ttl", [0, 0.0, -0.001, -60])
def test_non_positive_ttl_is_refused(ttl: float) -> None:
    with pytest.raises(CueDecodeError, match="ttl"):
        new_cue("interrupt", ttl=ttl, now=NOW)


@pytest.mark.parametrize("ttl", [math.nan, math.inf, 1e300, 1e15])
def test_unusable_ttl_is_refused_as_a_cue_error(ttl: float) -> None:
    with pytest.raises(CueDecodeError, match="ttl"):
        new_cue("interrupt", ttl=ttl, now=NOW)


def test_cues_are_frozen() -> None:
    cue = new_cue("say", "Hi", now=NOW)
    with pytest.raises(ValueError):
        cue.text = "changed"  # type: ignore[misc]


# --- size -----------------------------------------------------------------------------------


def _padded(length: int) -> Cue:
    """A 'say' cue whose text is ``length`` ASCII characters."""
    return new_cue("say", "x" * length, id="size", now=NOW)


def _exact_fit() -> tuple[Cue, int]:
    overhead = len(encode_cue(_padded(1))) - 1  # bytes that are not the text
    n = MAX_CUE_BYTES - overhead
    return _padded(n), n


def test_a_cue_of_exactly_the_limit_encodes() -> None:
    cue, _ = _exact_fit()
    raw = encode_cue(cue)
    assert len(raw) == MAX_CUE_BYTES == 15360
    assert decode_cue(raw) == cue


def test_one_byte_over_the_limit_is_too_large() -> None:
    _, n = _exact_fit()
    with pytest.raises(CueTooLarge) as info:
        encode_cue(_padded(n + 1))
    assert info.value.size == MAX_CUE_BYTES + 1
    assert info.value.limit == MAX_CUE_BYTES


def test_the_limit_counts_utf8_bytes_not_characters() -> None:
    text = "é" * 8000  # 8,000 characters, 16,000 bytes
    with pytest.raises(CueTooLarge) as info:
        encode_cue(new_cue("say", text, id="size", now=NOW))
    assert info.value.size > 16000


def test_the_signature_counts_towards_the_limit() -> None:
    cue, _ = _exact_fit()
    with pytest.raises(CueTooLarge) as info:
        encode_cue(cue, secret=SECRET)
    # ,"kid":"secret"  is 1 + 5 + 1 + 8 bytes (the key's name, signed too), and
    # ,"sig":"v1=<64 hex digits>"  is 1 + 5 + 1 + 1 + 3 + 64 + 1 bytes
    assert info.value.size == MAX_CUE_BYTES + 15 + 76


def test_decoding_over_the_limit_is_refused_before_parsing() -> None:
    cue, _ = _exact_fit()
    raw = encode_cue(cue)
    assert decode_cue(raw) == cue
    # Trailing whitespace keeps it valid JSON: only the size can be the reason.
    reason = reason_of(raw + b" ")
    assert str(MAX_CUE_BYTES) in reason
    assert str(MAX_CUE_BYTES + 1) in reason
    reason_of(raw.decode() + " ")  # str input is measured in UTF-8 bytes too


# --- not a cue at all -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [b"", b"not json", b"\xff\xfe", b"[]", b'"cue"', b"1", b"null", b"{", "\ud800"],
)
def test_garbage_is_refused(raw: bytes | str) -> None:
    assert reason_of(raw)


def test_str_input_decodes_like_bytes() -> None:
    assert decode_cue(wire().decode()) == decode_cue(wire())


@pytest.mark.parametrize("secret", [None, SECRET])
def test_deeply_nested_payloads_raise_only_cue_decode_error(secret: str | None) -> None:
    # Somewhere below the interpreter's recursion limit parsing, or re-serialising to check
    # the signature, runs out of stack; the window can be a single depth, so try each one.
    head = wire(data={"k": "@"}).decode()
    prefix, suffix = head.split('"@"')
    limit = sys.getrecursionlimit()
    for depth in range(max(1, limit - 500), limit + 100):
        raw = prefix + "[" * depth + "]" * depth + suffix
        if secret is not None:
            raw = raw[:-1] + ',"sig":"v1=' + "0" * 64 + '"}'
        with contextlib.suppress(CueDecodeError):
            decode_cue(raw, secret=secret)


# --- the seed's legacy payload --------------------------------------------------------------

LEGACY = b'{"action":"trigger_reply","message":"hi","timestamp":"2024-01-02T03:04:05Z"}'
# sha256sum of LEGACY's bytes, first 32 hex digits (computed with coreutils, not with livecue)
LEGACY_ID = "legacy-ec53966b52bc7c4373a8e5bb85d7344b"


def test_legacy_payload_is_an_interrupting_reply() -> None:
    cue = decode_cue(LEGACY, now=NOW + timedelta(hours=1))
    assert cue.kind == "reply"
    assert cue.policy == "interrupt"
    assert cue.text == "hi"
    assert cue.id == LEGACY_ID
    assert cue.created_at == NOW
    assert cue.expires_at == NOW + timedelta(seconds=60)


def test_legacy_payload_as_str() -> None:
    assert decode_cue(LEGACY.decode(), now=NOW).id == LEGACY_ID


def test_legacy_retry_is_the_same_cue() -> None:
    first = decode_cue(LEGACY, now=NOW)
    again = decode_cue(LEGACY, now=NOW + timedelta(seconds=5))
    assert first.id == again.id


def test_legacy_id_depends_on_the_payload() -> None:
    other = LEGACY.replace(b"03:04:05", b"03:04:06")
    assert decode_cue(other, now=NOW).id != LEGACY_ID
    assert decode_cue(other, now=NOW).id.startswith("legacy-")


@pytest.mark.parametrize(
    "timestamp",
    [..., None, "yesterday", 1704164645, "2024-01-02T03:04:05", "2024-13-40T00:00:00Z", ""],
)
def test_legacy_bad_or_missing_timestamp_means_now(timestamp: object) -> None:
    payload: dict[str, Any] = {"action": "trigger_reply", "message": "hi"}
    if timestamp is not ...:
        payload["timestamp"] = timestamp
    cue = decode_cue(json.dumps(payload).encode(), now=NOW)
    assert cue.created_at == NOW
    assert cue.expires_at == NOW + timedelta(seconds=60)


def test_legacy_timestamp_with_offset() -> None:
    raw = b'{"action":"trigger_reply","message":"hi","timestamp":"2024-01-02T04:04:05+01:00"}'
    assert decode_cue(raw, now=NOW + timedelta(days=1)).created_at == NOW


def test_legacy_needs_a_message() -> None:
    for payload in (
        {"action": "trigger_reply"},
        {"action": "trigger_reply", "message": ""},
        {"action": "trigger_reply", "message": "  "},
        {"action": "trigger_reply", "message": 42},
    ):
        assert "message" in reason_of(json.dumps(payload).encode())


def test_legacy_cannot_satisfy_a_required_signature() -> None:
    with pytest.raises(SignatureError):
        decode_cue(LEGACY, secret=SECRET, now=NOW)


def test_other_actions_are_not_legacy() -> None:
    assert "version" in reason_of(b'{"action":"something_else","message":"hi"}')


def test_a_versioned_payload_is_never_legacy() -> None:
    reason = reason_of(b'{"v":1,"action":"trigger_reply","message":"hi"}')
    assert "version" not in reason


# --- signatures on cues ---------------------------------------------------------------------


def test_signed_cue_known_answer() -> None:
    cue = new_cue("say", "Hello", id="cue-1", now=NOW)
    payload = json.loads(encode_cue(cue, secret=SECRET))
    # HMAC-SHA256 over
    # {"created_at":"2024-01-02T03:04:05.000Z","expires_at":"2024-01-02T03:05:05.000Z",
    #  "id":"cue-1","kid":"secret","kind":"say","policy":"queue","text":"Hello","v":1}
    # (one line, sorted keys, no spaces), computed with `openssl dgst -sha256 -hmac`.
    assert payload == {
        "v": 1,
        "id": "cue-1",
        "kind": "say",
        "text": "Hello",
        "policy": "queue",
        "created_at": "2024-01-02T03:04:05.000Z",
        "expires_at": "2024-01-02T03:05:05.000Z",
        "kid": "secret",
        "sig": "v1=38dc60ef41897c73db74874028737121ed734becdb383ed8b8b37594e9c52553",
    }


def test_a_cue_bound_to_a_room_known_answer() -> None:
    cue = new_cue("say", "Hello", id="cue-1", now=NOW)
    payload = json.loads(encode_cue(cue, secret=SECRET, room="room-1"))
    # the same, with "room":"room-1" among the signed fields (openssl again)
    assert payload["room"] == "room-1"
    assert payload["sig"] == "v1=de0edc3aa3cde78eecf37b38ad67f25b592f6448f5c65832a1c23899b01fa833"
    assert decode_cue(json.dumps(payload), secret=SECRET, room="room-1") == cue
    with pytest.raises(CueDecodeError, match="room 'room-1', not this room"):
        decode_cue(json.dumps(payload), secret=SECRET, room="room-2")
    payload["room"] = "room-2"  # moving it to another room breaks the signature
    with pytest.raises(SignatureError, match="does not match"):
        decode_cue(json.dumps(payload), secret=SECRET, room="room-2")


def test_signed_cue_decodes_with_the_secret() -> None:
    cue = new_cue("say", "Hello", id="cue-1", now=NOW)
    assert decode_cue(encode_cue(cue, secret=SECRET), secret=SECRET) == cue
    assert decode_cue(encode_cue(cue, secret=SECRET.encode()), secret=SECRET) == cue


def test_field_order_does_not_matter_to_the_signature() -> None:
    cue = new_cue("say", "Hello", id="cue-1", data={"b": 1, "a": 2}, now=NOW)
    payload = json.loads(encode_cue(cue, secret=SECRET))
    reordered = json.dumps(dict(reversed(list(payload.items()))), indent=2).encode()
    assert decode_cue(reordered, secret=SECRET) == cue


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("text", "Goodbye"),
        ("kind", "reply"),
        ("policy", "interrupt"),
        ("expires_at", "2030-01-01T00:00:00.000Z"),
        ("id", "cue-2"),
        ("data", {"injected": True}),
    ],
)
def test_tampering_after_signing_is_detected(field: str, value: object) -> None:
    payload = json.loads(encode_cue(new_cue("say", "Hello", id="cue-1", now=NOW), secret=SECRET))
    payload[field] = value
    raw = json.dumps(payload).encode()
    with pytest.raises(SignatureError):
        decode_cue(raw, secret=SECRET)
    assert decode_cue(raw).to_dict()[field] == value  # only the signature gives it away


def test_wrong_secret_is_detected() -> None:
    raw = encode_cue(new_cue("say", "Hello", now=NOW), secret=SECRET)
    with pytest.raises(SignatureError):
        decode_cue(raw, secret="another-secret")


@pytest.mark.parametrize("sig", [..., None, "", 42, "v1=", "v2=" + "0" * 64, "0" * 64])
def test_missing_or_malformed_signature_is_refused(sig: object) -> None:
    payload = json.loads(encode_cue(new_cue("say", "Hello", now=NOW)))
    if sig is not ...:
        payload["sig"] = sig
    with pytest.raises(SignatureError):
        decode_cue(json.dumps(payload).encode(), secret=SECRET)


def test_signature_without_a_configured_secret_is_ignored() -> None:
    cue = new_cue("say", "Hello", now=NOW)
    assert decode_cue(encode_cue(cue, secret=SECRET)) == cue


def test_signature_error_is_a_decode_error() -> None:
    raw = encode_cue(new_cue("say", "Hello", now=NOW))
    with pytest.raises(CueDecodeError):
        decode_cue(raw, secret=SECRET)


# --- what a cue may carry ------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [{"x": math.nan}, {"x": [math.inf]}, {"x": {1, 2}}, {"x": NOW}, {"x": b"bytes"}],
)
def test_data_that_is_not_json_is_refused_when_building(data: dict[str, Any]) -> None:
    with pytest.raises(CueDecodeError):
        new_cue("crm.update", data=data, now=NOW)


def test_lone_surrogates_are_refused_when_building() -> None:
    with pytest.raises(CueDecodeError):
        new_cue("say", "bad \ud800", now=NOW)
    with pytest.raises(CueDecodeError):
        new_cue("say", "ok", coalesce_key="\udfff", now=NOW)
    with pytest.raises(CueDecodeError):
        new_cue("crm.update", data={"\ud800": 1}, now=NOW)


@pytest.mark.parametrize(
    "fields",
    [
        {"data": {"x": float("nan")}},
        {"data": {"x": [float("-inf")]}},
        {"text": "bad \ud800"},
        {"coalesce_key": "\udfff"},
    ],
)
def test_values_that_cannot_be_sent_on_are_refused_when_decoding(fields: dict[str, Any]) -> None:
    # json.dumps writes NaN and \\ud800 escapes; Python's parser reads them back, but they are
    # not UTF-8 JSON and encode_cue could not send such a cue on.
    reason_of(wire(**fields))
