"""HMAC-SHA256 signatures: known answers, the key derivation, and every malformed input is a
SignatureError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecue import ConfigError, CueDecodeError, SignatureError, SigningKey
from livecue._signing import EXPLICIT_KEY_ID, key_from_env


def sign(message: bytes, secret: str | bytes) -> str:
    return SigningKey.from_secret(secret).sign(message)


def verify(message: bytes, signature: object, secret: str | bytes) -> None:
    SigningKey.from_secret(secret).verify(message, EXPLICIT_KEY_ID, signature)


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
    with pytest.raises(SignatureError, match="empty"):
        SigningKey.from_livekit("APIkey", "")


# The derivation, computed with openssl, not with livecue:
#   printf %s "livecue/cue-signing/v1" | openssl dgst -sha256 -hmac "<api secret>"
DERIVED = [
    (
        "an-example-livekit-api-secret-of-32-bytes+",
        "3d28eb3e135a99a4147a3c98b6b1fb88c9d2243c6b9ccdd6a9aa2bb29aa0a010",
    ),
    ("secret", "9dd6ab376d1d02954952f56cf003af1d9d368559b2182cc1d4eb832326a18dfd"),
]


@pytest.mark.parametrize(("api_secret", "derived"), DERIVED)
def test_the_key_derived_from_a_livekit_secret(api_secret: str, derived: str) -> None:
    key = SigningKey.from_livekit("APIexample", api_secret)
    assert key.key == bytes.fromhex(derived)
    assert key.key_id == "APIexample"  # the API key id names it; the secret never appears
    assert api_secret not in repr(key) and derived not in repr(key)


def test_a_key_of_another_livekit_api_key_is_reported_as_such() -> None:
    ours = SigningKey.from_livekit("APIagent", "secret-a")
    theirs = SigningKey.from_livekit("APIsender", "secret-b")
    with pytest.raises(SignatureError) as info:
        ours.verify(MESSAGE, "APIsender", theirs.sign(MESSAGE))
    assert "'APIsender'" in info.value.reason and "'APIagent'" in info.value.reason
    assert "LIVECUE_SECRET" in info.value.reason  # the fix is named


def test_an_explicit_secret_against_a_derived_key_is_reported_as_such() -> None:
    ours = SigningKey.from_livekit("APIagent", "secret-a")
    with pytest.raises(SignatureError, match="explicit secret"):
        ours.verify(MESSAGE, EXPLICIT_KEY_ID, sign(MESSAGE, "shared"))


def test_same_key_name_but_altered_message_is_a_mismatch_not_a_key_problem() -> None:
    key = SigningKey.from_livekit("APIk", "s")
    with pytest.raises(SignatureError, match="does not match"):
        key.verify(MESSAGE + b"!", "APIk", key.sign(MESSAGE))


def test_key_from_env_prefers_livecue_secret() -> None:
    env = {"LIVEKIT_API_KEY": "APIk", "LIVEKIT_API_SECRET": "s", "LIVECUE_SECRET": "own"}
    assert key_from_env(env) == SigningKey.from_secret("own")
    del env["LIVECUE_SECRET"]
    assert key_from_env(env) == SigningKey.from_livekit("APIk", "s")
    assert key_from_env({}, api_key="APIx", api_secret="t") == SigningKey.from_livekit("APIx", "t")
    with pytest.raises(ConfigError, match="LIVEKIT_API_SECRET"):
        key_from_env({"LIVEKIT_API_KEY": "APIk"})


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
