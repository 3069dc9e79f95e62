"""HMAC-SHA256 signatures: known answers, and every malformed input is a SignatureError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecue import CueDecodeError, SignatureError
from livecue._signing import sign, verify

# RFC 4231, test case 2: HMAC-SHA256 with key "Jefe".
RFC4231_KEY = "Jefe"
RFC4231_DATA = b"what do ya want for nothing?"
RFC4231_MAC = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"

# Computed once with `printf %s MESSAGE | openssl dgst -sha256 -hmac SECRET` (and checked
# against Python's hmac module), not with livecue.
SECRET = "livecue-test-secret"
MESSAGE = b"hello"
MESSAGE_MAC = "50af067216a306c420f8bbd17ee7642a12dc04e0aed5b26ee75a4f5d1e8c5edf"
UNICODE_SECRET = "clé"  # UTF-8 bytes 63 6c c3 a9
UNICODE_MESSAGE = "ünïcode ✓".encode()
UNICODE_MAC = "96faa5223d78df34841b466cfec4b51018f4aa4562f2eca7c2e0689c464b9382"


@pytest.mark.parametrize(
    ("message", "secret", "mac"),
    [
        (RFC4231_DATA, RFC4231_KEY, RFC4231_MAC),
        (RFC4231_DATA, RFC4231_KEY.encode(), RFC4231_MAC),
        (MESSAGE, SECRET, MESSAGE_MAC),
        (MESSAGE, SECRET.encode(), MESSAGE_MAC),
        (UNICODE_MESSAGE, UNICODE_SECRET, UNICODE_MAC),
        (UNICODE_MESSAGE, UNICODE_SECRET.encode(), UNICODE_MAC),
    ],
)
def test_known_answers(message: bytes, secret: str | bytes, mac: str) -> None:
    assert sign(message, secret) == "v1=" + mac
    verify(message, "v1=" + mac, secret)  # does not raise


def test_tampered_message_fails() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(b"hellO", "v1=" + MESSAGE_MAC, SECRET)
    with pytest.raises(SignatureError):
        verify(MESSAGE + b" ", "v1=" + MESSAGE_MAC, SECRET)


def test_wrong_secret_fails() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(MESSAGE, "v1=" + MESSAGE_MAC, "livecue-test-secreT")


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        0,
        42,
        ["v1=" + MESSAGE_MAC],
        ("v1=" + MESSAGE_MAC).encode(),
        MESSAGE_MAC,  # no scheme
        "v2=" + MESSAGE_MAC,
        "sha256=" + MESSAGE_MAC,
        "V1=" + MESSAGE_MAC,
        "v1=",
        "v1=" + MESSAGE_MAC[:-1],  # truncated
        "v1=" + MESSAGE_MAC + "0",  # too long
        " v1=" + MESSAGE_MAC,
        "v1=" + MESSAGE_MAC[:-1] + "é",  # not ASCII
        "v1=" + MESSAGE_MAC[:-1] + "\ud800",  # not even UTF-8
    ],
)
def test_missing_or_malformed_signatures_fail(signature: object) -> None:
    with pytest.raises(SignatureError):
        verify(MESSAGE, signature, SECRET)


@pytest.mark.parametrize("secret", ["", b""])
def test_empty_secret_is_refused(secret: str | bytes) -> None:
    with pytest.raises(SignatureError, match="empty"):
        sign(MESSAGE, secret)
    with pytest.raises(SignatureError, match="empty"):
        verify(MESSAGE, "v1=" + MESSAGE_MAC, secret)


def test_signature_errors_are_decode_errors_with_a_reason() -> None:
    with pytest.raises(CueDecodeError) as info:
        verify(MESSAGE, None, SECRET)
    assert isinstance(info.value, SignatureError)
    assert info.value.reason


@given(st.binary(max_size=256), st.binary(min_size=1, max_size=64))
def test_sign_then_verify(message: bytes, secret: bytes) -> None:
    signature = sign(message, secret)
    assert signature.startswith("v1=")
    assert len(signature) == 3 + 64
    assert all(c in "0123456789abcdef" for c in signature[3:])
    verify(message, signature, secret)


@given(st.binary(min_size=1, max_size=256), st.data())
def test_any_changed_byte_fails(message: bytes, data: st.DataObject) -> None:
    signature = sign(message, SECRET)
    index = data.draw(st.integers(min_value=0, max_value=len(message) - 1))
    flip = data.draw(st.integers(min_value=1, max_value=255))
    changed = bytearray(message)
    changed[index] ^= flip
    with pytest.raises(SignatureError):
        verify(bytes(changed), signature, SECRET)


@given(st.text(max_size=80))
def test_arbitrary_signature_text_fails_cleanly(signature: str) -> None:
    with pytest.raises(SignatureError):
        verify(MESSAGE, signature, SECRET)
