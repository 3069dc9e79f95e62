"""The envelope without pydantic: strict types, RFC 3339 times, ``replace``, old signatures."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from cue_wire import NOW, wire

from livecue import Cue, CueDecodeError, Outcome, decode_cue, encode_cue, new_cue


def reason_of(raw: bytes) -> str:
    with pytest.raises(CueDecodeError) as info:
        decode_cue(raw, now=NOW)
    return info.value.reason


# --- signatures made before the rewrite -----------------------------------------------------

# Written by encode_cue(..., secret=OLD_SECRET) of the pydantic implementation (the commit
# before this file existed), for new_cue("reply", "Ünïcödé donation: €100 ✓ \"quoted\"",
# data={"z": [1, 2.5, None, True, {"ä": "é"}], "a": {"n": -3, "s": "x\ny"}},
# policy="skip_if_busy", coalesce_key="donations/€", ttl=30, allow_interruptions=False,
# id="01HV6M3Z8Q4X0T1B2C3D4E5F6G", now=2024-01-02T03:04:05.678901Z).
OLD_SECRET = "old-code-secret"
OLD_SIGNED = (
    b'{"v":1,"id":"01HV6M3Z8Q4X0T1B2C3D4E5F6G","kind":"reply",'
    b'"text":"\xc3\x9cn\xc3\xafc\xc3\xb6d\xc3\xa9 donation: \xe2\x82\xac100 \xe2\x9c\x93 '
    b'\\"quoted\\"","data":{"z":[1,2.5,null,true,{"\xc3\xa4":"\xc3\xa9"}],'
    b'"a":{"n":-3,"s":"x\\ny"}},"coalesce_key":"donations/\xe2\x82\xac",'
    b'"allow_interruptions":false,"policy":"skip_if_busy",'
    b'"created_at":"2024-01-02T03:04:05.678Z","expires_at":"2024-01-02T03:04:35.678Z",'
    b'"sig":"v1=e49f9c53e2742328a0e8cdaac347b1f31c700ed49071b2ce9f32b6881c8e31c5"}'
)


def test_a_cue_signed_by_the_pydantic_implementation_still_verifies() -> None:
    cue = decode_cue(OLD_SIGNED, secret=OLD_SECRET)
    assert cue.text == 'Ünïcödé donation: €100 ✓ "quoted"'
    assert cue.data == {"z": [1, 2.5, None, True, {"ä": "é"}], "a": {"n": -3, "s": "x\ny"}}
    assert cue.coalesce_key == "donations/€"
    assert cue.allow_interruptions is False
    assert cue.created_at == datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)


def test_the_same_cue_is_signed_to_the_same_bytes() -> None:
    cue = new_cue(
        "reply",
        'Ünïcödé donation: €100 ✓ "quoted"',
        data={"z": [1, 2.5, None, True, {"ä": "é"}], "a": {"n": -3, "s": "x\ny"}},
        policy="skip_if_busy",
        coalesce_key="donations/€",
        ttl=30,
        allow_interruptions=False,
        id="01HV6M3Z8Q4X0T1B2C3D4E5F6G",
        now=datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc),
    )
    signed = encode_cue(cue, secret=OLD_SECRET)
    assert encode_cue(cue, secret=OLD_SECRET) == signed
    assert encode_cue(decode_cue(signed), secret=OLD_SECRET) == signed
    # the old bytes, with the key's name before the signature ("kid" is signed too, so the
    # signature itself differs)
    unsigned_part = OLD_SIGNED[: OLD_SIGNED.index(b',"sig":')]
    assert signed.startswith(unsigned_part + b',"kid":"secret","sig":"v1=')
    assert signed != OLD_SIGNED


def test_a_tampered_old_signature_fails() -> None:
    with pytest.raises(CueDecodeError):
        decode_cue(OLD_SIGNED.replace(b"\xe2\x82\xac100", b"\xe2\x82\xac900"), secret=OLD_SECRET)


# --- no coercion on the wire ----------------------------------------------------------------


@pytest.mark.parametrize("version", [1.0, "1", True])
def test_version_is_exactly_the_integer_one(version: object) -> None:
    reason = reason_of(wire(v=version))
    assert "version" in reason and repr(version) in reason


@pytest.mark.parametrize("value", [0, 1, 1.0, "true", "yes", "false", [], {}])
def test_allow_interruptions_must_be_a_real_boolean(value: object) -> None:
    assert "allow_interruptions" in reason_of(wire(allow_interruptions=value))


@pytest.mark.parametrize("value", [True, False, None])
def test_allow_interruptions_booleans_and_null(value: bool | None) -> None:
    assert decode_cue(wire(allow_interruptions=value)).allow_interruptions is value


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", 7),
        ("id", True),
        ("id", ["a"]),
        ("kind", 1),
        ("text", 5),
        ("text", True),
        ("text", ["x"]),
        ("coalesce_key", 5),
        ("coalesce_key", False),
        ("policy", ["queue"]),
        ("data", ["a", 1]),
        ("data", 1),
    ],
)
def test_field_types_are_not_coerced(field: str, value: object) -> None:
    assert field in reason_of(wire(**{field: value}))


def test_unknown_fields_do_not_reach_the_cue() -> None:
    cue = decode_cue(wire(priority=9, sig="v1=whatever"))
    assert not hasattr(cue, "priority")
    assert "sig" not in cue.to_dict()


# --- timestamps: RFC 3339 strings only ------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        1704164645,  # Unix time
        1704164645.5,
        "1704164645",
        "2024-01-02T03:04:05+0530",  # offset without a colon
        "2024-01-02T03:04Z",  # no seconds
        "2024-01-02T03:04:05,5Z",  # decimal comma
        "2024-01-02T03:04:05.Z",
        "20240102T030405Z",
        "2024-01-02",
        " 2024-01-02T03:04:05Z",
        "2024-01-02T03:04:05Z ",
        "2024-01-02T03:04:05Z\n",
        "２０２４-01-02T03:04:05Z",  # digits, but not ASCII ones
        "2024-02-30T03:04:05Z",  # no such day
        "2024-01-02T24:00:00Z",
        "2024-01-02T23:59:60Z",  # a leap second has no datetime
        "2024-01-02T03:04:05+24:00",
        "2024-01-02T03:04:05+01:60",
        None,
        True,
        [],
    ],
)
def test_timestamps_must_be_rfc_3339_strings(value: object) -> None:
    assert "created_at" in reason_of(wire(created_at=value))


@pytest.mark.parametrize(
    ("value", "utc"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02t03:04:05z", datetime(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02 03:04:05Z", datetime(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02T03:04:05-00:00", datetime(2024, 1, 2, 3, 4, 5)),
        ("2024-01-02T03:04:05+23:59", datetime(2024, 1, 1, 3, 5, 5)),
        ("2024-01-02T03:04:05.5+01:00", datetime(2024, 1, 2, 2, 4, 5, 500000)),
        # finer than microseconds is cut off, not rounded
        ("2024-01-02T03:04:05.123456789Z", datetime(2024, 1, 2, 3, 4, 5, 123456)),
    ],
)
def test_rfc_3339_forms_that_are_read(value: str, utc: datetime) -> None:
    cue = decode_cue(wire(created_at=value))
    assert cue.created_at == utc.replace(tzinfo=timezone.utc)
    assert cue.created_at.tzinfo is timezone.utc


# --- building cues --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "options"),
    [
        ("text", {"text": b"bytes"}),
        ("id", {"id": b"abc"}),
        ("kind", {"kind": b"say"}),
        ("coalesce_key", {"coalesce_key": b"k"}),
        ("policy", {"policy": b"queue"}),
        ("allow_interruptions", {"allow_interruptions": 1}),
        ("allow_interruptions", {"allow_interruptions": "no"}),
        ("data", {"data": [("a", 1)]}),
        ("data", {"data": {1: "x"}}),
    ],
)
def test_new_cue_does_not_coerce(field: str, options: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"kind": "say", "text": "hi", "now": NOW, **options}
    with pytest.raises(CueDecodeError) as info:
        new_cue(**arguments)
    assert info.value.reason.startswith(f"invalid cue ({field}:")


def test_new_cue_copies_data() -> None:
    data: dict[str, Any] = {"amount": 100}
    cue = new_cue("crm.update", data=data, now=NOW)
    data["amount"] = 1
    assert cue.data == {"amount": 100}


def test_constructing_a_cue_validates_it() -> None:
    with pytest.raises(CueDecodeError, match="kind"):
        Cue(id="c", kind="Bad", created_at=NOW, expires_at=NOW)
    # As on the wire, a timestamp may also come as an RFC 3339 string.
    stamp: Any = "2024-01-02T04:04:05+01:00"
    cue = Cue(id="c", kind="interrupt", created_at=stamp, expires_at=NOW)
    assert cue.created_at == NOW


def test_replace_changes_fields_and_revalidates() -> None:
    cue = new_cue("say", "Hello", id="cue-1", data={"a": 1}, now=NOW)
    other = cue.replace(id="cue-2", text="Goodbye")
    assert (other.id, other.text, other.data, other.created_at) == (
        "cue-2",
        "Goodbye",
        {"a": 1},
        NOW,
    )
    assert (cue.id, cue.text) == ("cue-1", "Hello")
    with pytest.raises(CueDecodeError, match="text"):
        cue.replace(text="  ")
    with pytest.raises(CueDecodeError, match="id"):
        cue.replace(id="a b")
    with pytest.raises(CueDecodeError, match="expires_at"):
        cue.replace(expires_at=datetime(2024, 1, 2, 3, 4, 5))  # naive
    plus_two = timezone(timedelta(hours=2))
    moved = cue.replace(expires_at=datetime(2024, 1, 2, 6, 0, tzinfo=plus_two))
    assert moved.expires_at == datetime(2024, 1, 2, 4, 0, tzinfo=timezone.utc)
    assert moved.expires_at.tzinfo is timezone.utc


def test_frozen_fields_raise_both_error_types() -> None:
    cue = new_cue("say", "Hi", now=NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cue.text = "changed"  # type: ignore[misc]
    with pytest.raises(ValueError):
        del cue.text
    assert cue.text == "Hi"


def test_equal_cues_are_equal_and_repr_names_the_fields() -> None:
    one = new_cue("say", "Hi", id="c", now=NOW)
    assert one == new_cue("say", "Hi", id="c", now=NOW)
    assert one != new_cue("say", "Hi", id="d", now=NOW)
    assert repr(one).startswith("Cue(v=1, id='c', kind='say', text='Hi', data=None,")


# --- outcomes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"cue_id": 1, "status": "applied"},
        {"cue_id": "c", "status": "done"},
        {"cue_id": "c", "status": "applied", "reason": 5},
    ],
)
def test_constructing_an_invalid_outcome_fails(fields: dict[str, Any]) -> None:
    with pytest.raises(CueDecodeError, match="outcome"):
        Outcome(**fields)


def test_outcome_decode_ignores_unknown_fields_and_reads_bytes() -> None:
    raw = b'{"cue_id":"c","status":"applied","reason":null,"extra":[1]}'
    assert Outcome.decode(raw) == Outcome(cue_id="c", status="applied")  # type: ignore[arg-type]


def test_outcome_encode_is_compact_utf8_json() -> None:
    encoded = Outcome(cue_id="c", status="rejected", reason="é ✓").encode()
    assert encoded == '{"cue_id":"c","status":"rejected","reason":"é ✓"}'


def test_an_outcome_that_is_not_utf8_cannot_be_encoded() -> None:
    with pytest.raises(ValueError):
        Outcome(cue_id="c", status="rejected", reason="bad \ud800").encode()
