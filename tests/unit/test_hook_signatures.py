"""Inbound webhook verification: known answers, rotation, windows, and every bad input is one error.

Expected signatures below were computed outside livecue, in the shell, with
``printf %s CONTENT | openssl dgst -sha256 -hmac SECRET`` (``-binary | base64`` for Standard
Webhooks; its whsec_ key decoded with ``base64 -d`` and passed as ``-macopt hexkey:``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from livecue import LivecueError
from livecue._hook_signatures import (
    MAX_HEADER_CHARS,
    SCHEMES,
    HookVerificationError,
    Verified,
    sign_github,
    sign_hmac_sha256,
    sign_standard_webhooks,
    sign_stripe,
    verify,
    verify_bearer,
    verify_github,
    verify_hmac_sha256,
    verify_standard_webhooks,
    verify_stripe,
)

# -- Standard Webhooks: the example from the specification ------------------------------------
SW_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SW_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SW_TS = 1614265330
SW_BODY = b'{"test": 2432232314}'
SW_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
# The same content keyed with the UTF-8 bytes of a secret that has no whsec_ prefix.
SW_RAW_SECRET = "not-a-whsec-secret"
SW_RAW_SIG = "v1,3ltIH4rf0tz24HU/sy5FbV8bdQ1mSUCbph/rLMd33hI="
# A second whsec_ secret (base64 of "livecue-rotation-key-0123456789!") and its signature.
SW_OTHER_SECRET = "whsec_bGl2ZWN1ZS1yb3RhdGlvbi1rZXktMDEyMzQ1Njc4OSE="
SW_OTHER_SIG = "v1,3ppJhSQvXc+M3NigtEma7aedjSZ1K+++3nAaOYkoGUY="

# -- Stripe: the secret's bytes as given, whsec_ included (not base64-decoded) ----------------
STRIPE_SECRET = SW_SECRET
STRIPE_OLD_SECRET = "whsec_older_secret"
STRIPE_TS = 1700000000
STRIPE_BODY = b'{"id":"evt_1","type":"payment_intent.succeeded"}'
STRIPE_HEX = "a978e6f8a8e1e47133e3dcb67d84ba9459d28441bf42a5f89bcaa99008fef8c1"
STRIPE_OLD_HEX = "92bdd45fbb23627992800dd31f399007edb7a3ec399bd05d6da800f1080ec93d"

# -- GitHub: the example from GitHub's documentation --------------------------------------------
GH_SECRET = "It's a Secret to Everybody"
GH_BODY = b"Hello, World!"
GH_SIG = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
GH_OLD_SECRET = "older github secret"
GH_OLD_SIG = "sha256=668032d5ff91a47c622e209e052f083ecf83570f75bcaecb10982ec568f4351f"
GH_DELIVERY = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

# -- plain HMAC-SHA256 ----------------------------------------------------------------------
HMAC_SECRET = "plain-secret"
HMAC_BODY = b'{"room":"r1"}'
HMAC_HEX = "48ae2f47c95ef32343c600b92149b9a096a0c459b433620d8920e1dcf961b311"
HMAC_TS = 1700000000
HMAC_TS_HEX = (
    "febb8334fbfa97879bcdaba1987dd3a8e08dc58bf6c8e0dadcb21a690100d126"  # over "{ts}.{body}"
)

BEARER_TOKEN = "tok_live_0123456789abcdef"
WRONG_HEX = "0" * 64


def sw_headers(**overrides: str) -> dict[str, str]:
    headers = {"webhook-id": SW_ID, "webhook-timestamp": str(SW_TS), "webhook-signature": SW_SIG}
    headers.update({key.replace("_", "-"): value for key, value in overrides.items()})
    return headers


def reason(call: Callable[[], object]) -> str:
    with pytest.raises(HookVerificationError) as info:
        call()
    assert str(info.value) == info.value.reason
    return info.value.reason


# -- the error type -------------------------------------------------------------------------


def test_the_error_is_a_livecue_error_and_not_retryable() -> None:
    error = HookVerificationError("signature does not match")
    assert isinstance(error, LivecueError)
    assert error.reason == "signature does not match"
    assert error.retryable is False


# -- Standard Webhooks -----------------------------------------------------------------------


def test_standard_webhooks_known_answer_signs() -> None:
    assert sign_standard_webhooks(SW_BODY, SW_SECRET, SW_ID, SW_TS) == {
        "webhook-id": SW_ID,
        "webhook-timestamp": "1614265330",
        "webhook-signature": SW_SIG,
    }
    assert sign_standard_webhooks(SW_BODY, SW_RAW_SECRET, SW_ID, SW_TS)["webhook-signature"] == (
        SW_RAW_SIG
    )


def test_standard_webhooks_known_answer_verifies() -> None:
    result = verify_standard_webhooks(SW_BODY, sw_headers(), [SW_SECRET], now=SW_TS)
    assert result == Verified(delivery_id=SW_ID, timestamp=1614265330.0)


def test_standard_webhooks_secret_without_prefix_is_raw_bytes() -> None:
    headers = sw_headers(webhook_signature=SW_RAW_SIG)
    assert verify_standard_webhooks(SW_BODY, headers, [SW_RAW_SECRET], SW_TS).delivery_id == SW_ID
    # The whsec_ secret's decoded key is a different key.
    assert reason(lambda: verify_standard_webhooks(SW_BODY, headers, [SW_SECRET], SW_TS)) == (
        "signature does not match"
    )


def test_standard_webhooks_headers_are_case_insensitive() -> None:
    headers = {"Webhook-Id": SW_ID, "WEBHOOK-TIMESTAMP": str(SW_TS), "Webhook-Signature": SW_SIG}
    assert verify_standard_webhooks(SW_BODY, headers, [SW_SECRET], SW_TS).delivery_id == SW_ID


def test_standard_webhooks_second_of_several_signatures_matches() -> None:
    other = "v1," + "A" * 43 + "="
    headers = sw_headers(webhook_signature=f"{other} v1a,abcd {SW_SIG}")
    assert verify_standard_webhooks(SW_BODY, headers, [SW_SECRET], SW_TS).delivery_id == SW_ID
    alone = sw_headers(webhook_signature=f"{other} v1a,abcd")
    assert reason(lambda: verify_standard_webhooks(SW_BODY, alone, [SW_SECRET], SW_TS)) == (
        "signature does not match"
    )


def test_standard_webhooks_rotation_old_secret_still_accepted() -> None:
    # Only the second (old) configured secret signed the request.
    headers = sw_headers(webhook_signature=SW_SIG)
    secrets = [SW_OTHER_SECRET, SW_SECRET]
    assert verify_standard_webhooks(SW_BODY, headers, secrets, SW_TS).delivery_id == SW_ID
    # And a sender signing with both during the switch passes with either configured.
    both = sw_headers(webhook_signature=f"{SW_OTHER_SIG} {SW_SIG}")
    assert verify_standard_webhooks(SW_BODY, both, [SW_OTHER_SECRET], SW_TS).timestamp == SW_TS
    with pytest.raises(HookVerificationError):
        verify_standard_webhooks(SW_BODY, headers, [SW_OTHER_SECRET], SW_TS)


@pytest.mark.parametrize("offset", [-300, -299.5, 0, 299.9, 300])
def test_standard_webhooks_inside_the_window(offset: float) -> None:
    now = SW_TS + offset
    assert verify_standard_webhooks(SW_BODY, sw_headers(), [SW_SECRET], now).delivery_id == SW_ID


@pytest.mark.parametrize("offset", [-301, -300.001, 300.001, 301, 86400, -86400])
def test_standard_webhooks_stale_or_future_timestamp(offset: float) -> None:
    now = SW_TS + offset
    assert reason(lambda: verify_standard_webhooks(SW_BODY, sw_headers(), [SW_SECRET], now)) == (
        "timestamp outside the tolerance window"
    )


def test_standard_webhooks_tolerance_is_configurable() -> None:
    now = SW_TS + 30
    headers = sw_headers()
    assert verify_standard_webhooks(SW_BODY, headers, [SW_SECRET], now, tolerance_s=30).timestamp
    with pytest.raises(HookVerificationError, match="tolerance"):
        verify_standard_webhooks(SW_BODY, headers, [SW_SECRET], now, tolerance_s=29)


@pytest.mark.parametrize(
    "body",
    [b'{"test": 2432232315}', b'{"test": 2432232314} ', b"", SW_BODY.upper()],
)
def test_standard_webhooks_tampered_body(body: bytes) -> None:
    assert reason(lambda: verify_standard_webhooks(body, sw_headers(), [SW_SECRET], SW_TS)) == (
        "signature does not match"
    )


def test_standard_webhooks_tampered_id_or_timestamp() -> None:
    with pytest.raises(HookVerificationError, match="does not match"):
        verify_standard_webhooks(SW_BODY, sw_headers(webhook_id="msg_other"), [SW_SECRET], SW_TS)
    moved = sw_headers(webhook_timestamp=str(SW_TS + 1))
    with pytest.raises(HookVerificationError, match="does not match"):
        verify_standard_webhooks(SW_BODY, moved, [SW_SECRET], SW_TS)


def test_standard_webhooks_wrong_secret() -> None:
    assert reason(
        lambda: verify_standard_webhooks(SW_BODY, sw_headers(), [SW_OTHER_SECRET], SW_TS)
    ) == ("signature does not match")


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_standard_webhooks_missing_header(missing: str) -> None:
    headers = sw_headers()
    del headers[missing]
    assert reason(lambda: verify_standard_webhooks(SW_BODY, headers, [SW_SECRET], SW_TS)) == (
        f"missing header {missing}"
    )
    headers[missing] = "   "
    assert reason(lambda: verify_standard_webhooks(SW_BODY, headers, [SW_SECRET], SW_TS)) == (
        f"missing header {missing}"
    )


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("webhook-timestamp", "yesterday", "malformed header webhook-timestamp"),
        ("webhook-timestamp", "1614265330.5", "malformed header webhook-timestamp"),
        ("webhook-timestamp", "-1614265330", "malformed header webhook-timestamp"),
        ("webhook-timestamp", "1_614_265_330", "malformed header webhook-timestamp"),
        ("webhook-timestamp", "١٦١٤٢٦٥٣٣٠", "malformed header webhook-timestamp"),
        ("webhook-timestamp", "9" * 40, "malformed header webhook-timestamp"),
        ("webhook-id", "msg with spaces", "malformed header webhook-id"),
        ("webhook-id", "m" * 257, "malformed header webhook-id"),
        ("webhook-id", "msg_é", "malformed header webhook-id"),
        ("webhook-signature", "garbage", "no v1 signature in header webhook-signature"),
        ("webhook-signature", "v1", "no v1 signature in header webhook-signature"),
        ("webhook-signature", "v1,", "no v1 signature in header webhook-signature"),
        ("webhook-signature", "v2," + SW_SIG[3:], "no v1 signature in header webhook-signature"),
        ("webhook-signature", "V1," + SW_SIG[3:], "no v1 signature in header webhook-signature"),
        ("webhook-signature", "v1=" + SW_SIG[3:], "no v1 signature in header webhook-signature"),
        ("webhook-signature", "v1,not base64!!", "no v1 signature in header webhook-signature"),
        ("webhook-signature", SW_SIG[:-1], "no v1 signature in header webhook-signature"),
        ("webhook-signature", "v1,AAAA", "no v1 signature in header webhook-signature"),
        ("webhook-signature", "v1,ĝ0hM9SsE", "no v1 signature in header webhook-signature"),
        ("webhook-signature", SW_SIG + " " + "x" * MAX_HEADER_CHARS, "too long"),
    ],
)
def test_standard_webhooks_malformed_header(header: str, value: str, expected: str) -> None:
    headers = sw_headers(**{header.replace("-", "_"): value})
    assert expected in reason(
        lambda: verify_standard_webhooks(SW_BODY, headers, [SW_SECRET], SW_TS)
    )


def test_header_values_that_are_not_strings_are_malformed() -> None:
    headers: dict[str, object] = {**sw_headers(), "webhook-id": SW_ID.encode()}
    assert reason(
        lambda: verify_standard_webhooks(SW_BODY, headers, [SW_SECRET], SW_TS)  # type: ignore[arg-type]
    ) == ("malformed header webhook-id")


def test_a_header_given_twice_with_different_values_is_refused() -> None:
    headers = sw_headers()
    headers["Webhook-Signature"] = "v1," + "A" * 43 + "="
    assert reason(lambda: verify_standard_webhooks(SW_BODY, headers, [SW_SECRET], SW_TS)) == (
        "header webhook-signature is given more than once"
    )
    headers["Webhook-Signature"] = SW_SIG  # the same value twice is harmless
    assert verify_standard_webhooks(SW_BODY, headers, [SW_SECRET], SW_TS).delivery_id == SW_ID


@pytest.mark.parametrize(
    ("secrets", "expected"),
    [
        ([], "no secret is configured"),
        ([""], "a configured secret is empty"),
        (["whsec_"], "a configured secret is empty"),
        (["whsec_not base64!"], "a configured whsec_ secret is not valid base64"),
        ([SW_SECRET, "whsec_%%%"], "a configured whsec_ secret is not valid base64"),
    ],
)
def test_standard_webhooks_unusable_secrets(secrets: list[str], expected: str) -> None:
    assert reason(lambda: verify_standard_webhooks(SW_BODY, sw_headers(), secrets, SW_TS)) == (
        expected
    )


# -- Stripe --------------------------------------------------------------------------------


def stripe_headers(value: str) -> dict[str, str]:
    return {"Stripe-Signature": value}


def test_stripe_known_answer() -> None:
    assert sign_stripe(STRIPE_BODY, STRIPE_SECRET, STRIPE_TS) == f"t={STRIPE_TS},v1={STRIPE_HEX}"
    result = verify_stripe(
        STRIPE_BODY, stripe_headers(f"t={STRIPE_TS},v1={STRIPE_HEX}"), [STRIPE_SECRET], STRIPE_TS
    )
    assert result == Verified(delivery_id=None, timestamp=float(STRIPE_TS))


def test_stripe_upper_case_hex_and_extra_schemes_are_accepted() -> None:
    value = f"t={STRIPE_TS}, v0={WRONG_HEX}, v1={STRIPE_HEX.upper()}, x=1"
    assert verify_stripe(STRIPE_BODY, stripe_headers(value), [STRIPE_SECRET], STRIPE_TS).timestamp


def test_stripe_second_signature_matches() -> None:
    value = f"t={STRIPE_TS},v1={WRONG_HEX},v1={STRIPE_HEX}"
    assert verify_stripe(STRIPE_BODY, stripe_headers(value), [STRIPE_SECRET], STRIPE_TS).timestamp
    only_wrong = f"t={STRIPE_TS},v1={WRONG_HEX},v0={STRIPE_HEX}"
    assert reason(
        lambda: verify_stripe(STRIPE_BODY, stripe_headers(only_wrong), [STRIPE_SECRET], STRIPE_TS)
    ) == ("signature does not match")


def test_stripe_rotation_old_secret_still_accepted() -> None:
    value = stripe_headers(f"t={STRIPE_TS},v1={STRIPE_OLD_HEX}")
    secrets = [STRIPE_SECRET, STRIPE_OLD_SECRET]
    assert verify_stripe(STRIPE_BODY, value, secrets, STRIPE_TS).timestamp == STRIPE_TS
    with pytest.raises(HookVerificationError, match="does not match"):
        verify_stripe(STRIPE_BODY, value, [STRIPE_SECRET], STRIPE_TS)


def test_stripe_secret_is_not_base64_decoded() -> None:
    # The Standard Webhooks signature of the same content uses the decoded key; Stripe must not.
    decoded = sign_standard_webhooks(STRIPE_BODY, STRIPE_SECRET, "x", STRIPE_TS)
    assert decoded["webhook-signature"] != f"v1,{STRIPE_HEX}"
    assert sign_stripe(STRIPE_BODY, STRIPE_SECRET, STRIPE_TS).endswith(STRIPE_HEX)


@pytest.mark.parametrize("offset", [-301, 301, -10_000, 10_000])
def test_stripe_stale_or_future(offset: int) -> None:
    headers = stripe_headers(f"t={STRIPE_TS},v1={STRIPE_HEX}")
    now = STRIPE_TS + offset
    assert reason(lambda: verify_stripe(STRIPE_BODY, headers, [STRIPE_SECRET], now)) == (
        "timestamp outside the tolerance window"
    )


@pytest.mark.parametrize("offset", [-300, 300])
def test_stripe_window_edges_pass(offset: int) -> None:
    headers = stripe_headers(f"t={STRIPE_TS},v1={STRIPE_HEX}")
    assert verify_stripe(STRIPE_BODY, headers, [STRIPE_SECRET], STRIPE_TS + offset).timestamp


def test_stripe_tampered_body_and_wrong_secret() -> None:
    headers = stripe_headers(f"t={STRIPE_TS},v1={STRIPE_HEX}")
    with pytest.raises(HookVerificationError, match="does not match"):
        verify_stripe(STRIPE_BODY + b" ", headers, [STRIPE_SECRET], STRIPE_TS)
    with pytest.raises(HookVerificationError, match="does not match"):
        verify_stripe(STRIPE_BODY, headers, [STRIPE_OLD_SECRET], STRIPE_TS)
    # Moving the timestamp (inside the window) breaks the signature too.
    moved = stripe_headers(f"t={STRIPE_TS + 1},v1={STRIPE_HEX}")
    with pytest.raises(HookVerificationError, match="does not match"):
        verify_stripe(STRIPE_BODY, moved, [STRIPE_SECRET], STRIPE_TS)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", "missing header stripe-signature"),
        ("garbage", "malformed header stripe-signature"),
        (f"v1={STRIPE_HEX}", "malformed header stripe-signature"),
        (f"t=,v1={STRIPE_HEX}", "malformed header stripe-signature"),
        (f"t=abc,v1={STRIPE_HEX}", "malformed header stripe-signature"),
        (f"t={STRIPE_TS},t={STRIPE_TS},v1={STRIPE_HEX}", "malformed header stripe-signature"),
        (f"t={STRIPE_TS}", "no v1 signature in header stripe-signature"),
        (f"t={STRIPE_TS},v1=", "no v1 signature in header stripe-signature"),
        (f"t={STRIPE_TS},v1=xyz", "no v1 signature in header stripe-signature"),
        (f"t={STRIPE_TS},v1={STRIPE_HEX[:-1]}", "no v1 signature in header stripe-signature"),
        (f"t={STRIPE_TS},v1={STRIPE_HEX}00", "no v1 signature in header stripe-signature"),
        (f"t={STRIPE_TS},v1={'g' * 64}", "no v1 signature in header stripe-signature"),
        (f"t={STRIPE_TS},V1={STRIPE_HEX}", "no v1 signature in header stripe-signature"),
        (f"t={STRIPE_TS},v1={STRIPE_HEX}," + "v1=0," * 2000, "too long"),
    ],
)
def test_stripe_malformed_header(value: str, expected: str) -> None:
    headers = stripe_headers(value)
    assert expected in reason(
        lambda: verify_stripe(STRIPE_BODY, headers, [STRIPE_SECRET], STRIPE_TS)
    )


def test_stripe_missing_header() -> None:
    assert reason(lambda: verify_stripe(STRIPE_BODY, {}, [STRIPE_SECRET], STRIPE_TS)) == (
        "missing header stripe-signature"
    )


# -- GitHub --------------------------------------------------------------------------------


def gh_headers(signature: str = GH_SIG, **extra: str) -> dict[str, str]:
    return {"X-Hub-Signature-256": signature, "X-GitHub-Delivery": GH_DELIVERY, **extra}


def test_github_known_answer() -> None:
    assert sign_github(GH_BODY, GH_SECRET) == GH_SIG
    assert sign_github(GH_BODY, GH_OLD_SECRET) == GH_OLD_SIG
    result = verify_github(GH_BODY, gh_headers(), [GH_SECRET], now=0)
    assert result == Verified(delivery_id=GH_DELIVERY, timestamp=None)


def test_github_has_no_window() -> None:
    # GitHub signs no timestamp: any "now" passes, replay protection is delivery-id dedup.
    assert verify_github(GH_BODY, gh_headers(), [GH_SECRET], now=4e9).delivery_id == GH_DELIVERY


def test_github_delivery_header_is_optional_but_checked() -> None:
    headers = {"x-hub-signature-256": GH_SIG}
    assert verify_github(GH_BODY, headers, [GH_SECRET], 0).delivery_id is None
    bad = gh_headers(**{"X-GitHub-Delivery": "two words"})
    assert reason(lambda: verify_github(GH_BODY, bad, [GH_SECRET], 0)) == (
        "malformed header x-github-delivery"
    )


def test_github_rotation_and_wrong_secret() -> None:
    headers = gh_headers(GH_OLD_SIG)
    assert verify_github(GH_BODY, headers, [GH_SECRET, GH_OLD_SECRET], 0).delivery_id
    assert reason(lambda: verify_github(GH_BODY, headers, [GH_SECRET], 0)) == (
        "signature does not match"
    )


def test_github_tampered_body() -> None:
    with pytest.raises(HookVerificationError, match="does not match"):
        verify_github(b"Hello, World?", gh_headers(), [GH_SECRET], 0)


@pytest.mark.parametrize(
    "value",
    [
        "garbage",
        GH_SIG[len("sha256=") :],  # bare hex: GitHub always sends the prefix
        "sha1=" + GH_SIG[len("sha256=") :],
        "SHA256=" + GH_SIG[len("sha256=") :],
        "sha256=",
        "sha256=" + "z" * 64,
        GH_SIG[:-2],
        GH_SIG + "ab",
        f"{GH_SIG},{GH_SIG}",
    ],
)
def test_github_malformed_signature(value: str) -> None:
    assert reason(lambda: verify_github(GH_BODY, gh_headers(value), [GH_SECRET], 0)) == (
        "malformed header x-hub-signature-256"
    )


def test_github_missing_signature() -> None:
    headers = {"X-GitHub-Delivery": GH_DELIVERY}
    assert reason(lambda: verify_github(GH_BODY, headers, [GH_SECRET], 0)) == (
        "missing header x-hub-signature-256"
    )


# -- plain HMAC-SHA256 --------------------------------------------------------------------


def test_hmac_known_answers() -> None:
    assert sign_hmac_sha256(HMAC_BODY, HMAC_SECRET) == f"sha256={HMAC_HEX}"
    assert sign_hmac_sha256(HMAC_BODY, HMAC_SECRET, timestamp=HMAC_TS) == f"sha256={HMAC_TS_HEX}"


@pytest.mark.parametrize(
    "value",
    [
        HMAC_HEX,
        f"sha256={HMAC_HEX}",
        f"SHA256={HMAC_HEX.upper()}",
        f"{WRONG_HEX},{HMAC_HEX}",
        f"{WRONG_HEX} sha256={HMAC_HEX}",
        f"sha256={WRONG_HEX}, sha256={HMAC_HEX}",
        f"junk {HMAC_HEX}",
    ],
)
def test_hmac_signature_forms(value: str) -> None:
    result = verify_hmac_sha256(HMAC_BODY, {"x-signature": value}, [HMAC_SECRET], 0)
    assert result == Verified(delivery_id=None, timestamp=None)


def test_hmac_custom_headers_with_timestamp_and_delivery_id() -> None:
    headers = {"X-Acme-Sig": HMAC_TS_HEX, "X-Acme-Time": str(HMAC_TS), "X-Acme-Id": "d-1"}
    options = {
        "signature_header": "x-acme-sig",
        "timestamp_header": "X-Acme-Time",
        "delivery_id_header": "X-ACME-ID",
    }
    result = verify_hmac_sha256(HMAC_BODY, headers, [HMAC_SECRET], HMAC_TS + 10, **options)
    assert result == Verified(delivery_id="d-1", timestamp=float(HMAC_TS))
    # Without the timestamp header configured, the body-only signature is expected instead.
    with pytest.raises(HookVerificationError, match="does not match"):
        verify_hmac_sha256(
            HMAC_BODY, headers, [HMAC_SECRET], HMAC_TS, signature_header="X-Acme-Sig"
        )


def test_hmac_timestamp_window_and_missing_timestamp() -> None:
    headers = {"X-Signature": HMAC_TS_HEX, "X-Timestamp": str(HMAC_TS)}
    ok = verify_hmac_sha256(
        HMAC_BODY, headers, [HMAC_SECRET], HMAC_TS - 300, timestamp_header="X-Timestamp"
    )
    assert ok.timestamp == HMAC_TS
    for now in (HMAC_TS - 301, HMAC_TS + 301):
        assert reason(
            lambda now=now: verify_hmac_sha256(
                HMAC_BODY, headers, [HMAC_SECRET], now, timestamp_header="X-Timestamp"
            )
        ) == ("timestamp outside the tolerance window")
    del headers["X-Timestamp"]
    assert reason(
        lambda: verify_hmac_sha256(
            HMAC_BODY, headers, [HMAC_SECRET], HMAC_TS, timestamp_header="X-Timestamp"
        )
    ) == ("missing header x-timestamp")


def test_hmac_rotation_tamper_and_wrong_secret() -> None:
    headers = {"X-Signature": HMAC_HEX}
    assert verify_hmac_sha256(HMAC_BODY, headers, ["new-secret", HMAC_SECRET], 0).timestamp is None
    with pytest.raises(HookVerificationError, match="does not match"):
        verify_hmac_sha256(HMAC_BODY, headers, ["new-secret"], 0)
    with pytest.raises(HookVerificationError, match="does not match"):
        verify_hmac_sha256(HMAC_BODY + b"\n", headers, [HMAC_SECRET], 0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("garbage", "malformed header x-signature"),
        ("sha256=", "malformed header x-signature"),
        ("sha1=" + HMAC_HEX, "malformed header x-signature"),
        (HMAC_HEX[:-1], "malformed header x-signature"),
        ("0x" + HMAC_HEX, "malformed header x-signature"),
        (",,, ,", "malformed header x-signature"),
        ("ẞ" * 64, "malformed header x-signature"),
        ("a" * (MAX_HEADER_CHARS + 1), "header x-signature is too long"),
    ],
)
def test_hmac_malformed(value: str, expected: str) -> None:
    headers = {"X-Signature": value}
    assert reason(lambda: verify_hmac_sha256(HMAC_BODY, headers, [HMAC_SECRET], 0)) == expected


def test_hmac_malformed_timestamp_and_delivery_id() -> None:
    headers = {"X-Signature": HMAC_TS_HEX, "X-Timestamp": "soon", "X-Id": "ok"}
    assert reason(
        lambda: verify_hmac_sha256(
            HMAC_BODY, headers, [HMAC_SECRET], HMAC_TS, timestamp_header="X-Timestamp"
        )
    ) == ("malformed header x-timestamp")
    headers = {"X-Signature": HMAC_HEX, "X-Id": "\x00"}
    assert reason(
        lambda: verify_hmac_sha256(HMAC_BODY, headers, [HMAC_SECRET], 0, delivery_id_header="X-Id")
    ) == ("malformed header x-id")


# -- bearer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value", [f"Bearer {BEARER_TOKEN}", f"bearer {BEARER_TOKEN}", f"BEARER   {BEARER_TOKEN}  "]
)
def test_bearer_accepts(value: str) -> None:
    headers = {"Authorization": value, "Idempotency-Key": "k-1"}
    result = verify_bearer(b"{}", headers, [BEARER_TOKEN], 0, delivery_id_header="idempotency-key")
    assert result == Verified(delivery_id="k-1", timestamp=None)


def test_bearer_rotation_and_wrong_token() -> None:
    headers = {"authorization": f"Bearer {BEARER_TOKEN}"}
    assert verify_bearer(b"", headers, ["tok_new", BEARER_TOKEN], 0).delivery_id is None
    for wrong in (BEARER_TOKEN[:-1], BEARER_TOKEN + "x", BEARER_TOKEN.upper()):
        assert reason(
            lambda wrong=wrong: verify_bearer(
                b"", {"Authorization": f"Bearer {wrong}"}, [BEARER_TOKEN], 0
            )
        ) == ("token does not match")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "missing header authorization"),
        ("", "missing header authorization"),
        (BEARER_TOKEN, "malformed header authorization"),
        (f"Basic {BEARER_TOKEN}", "malformed header authorization"),
        ("Bearer", "malformed header authorization"),
        ("Bearer    ", "malformed header authorization"),
        (f"Token {BEARER_TOKEN}", "malformed header authorization"),
        (f"Bearer{BEARER_TOKEN}", "malformed header authorization"),
    ],
)
def test_bearer_malformed(value: str | None, expected: str) -> None:
    headers = {} if value is None else {"Authorization": value}
    assert reason(lambda: verify_bearer(b"", headers, [BEARER_TOKEN], 0)) == expected


def test_bearer_empty_configured_token_is_refused() -> None:
    headers = {"Authorization": "Bearer x"}
    assert reason(lambda: verify_bearer(b"", headers, [""], 0)) == "a configured secret is empty"
    assert reason(lambda: verify_bearer(b"", headers, [], 0)) == "no secret is configured"


# -- secrets given the wrong way, the dispatcher -------------------------------------------


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_bare_string_is_not_a_list_of_secrets(scheme: str) -> None:
    with pytest.raises(TypeError, match="sequence of strings"):
        verify(scheme, b"", {}, "abc", 0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scheme", "body", "headers", "secrets", "now", "options", "expected"),
    [
        ("standard_webhooks", SW_BODY, sw_headers(), [SW_SECRET], SW_TS, {}, SW_ID),
        (
            "stripe",
            STRIPE_BODY,
            stripe_headers(f"t={STRIPE_TS},v1={STRIPE_HEX}"),
            [STRIPE_SECRET],
            STRIPE_TS,
            {"tolerance_s": 10},
            None,
        ),
        ("github", GH_BODY, gh_headers(), [GH_SECRET], 0, {}, GH_DELIVERY),
        (
            "hmac_sha256",
            HMAC_BODY,
            {"X-Sig": HMAC_HEX, "X-Id": "abc"},
            [HMAC_SECRET],
            0,
            {"signature_header": "X-Sig", "delivery_id_header": "X-Id"},
            "abc",
        ),
        (
            "bearer",
            b"",
            {"Authorization": f"Bearer {BEARER_TOKEN}"},
            [BEARER_TOKEN],
            0,
            {},
            None,
        ),
    ],
)
def test_dispatcher_routes_each_scheme(
    scheme: str,
    body: bytes,
    headers: dict[str, str],
    secrets: list[str],
    now: float,
    options: dict[str, object],
    expected: str | None,
) -> None:
    assert verify(scheme, body, headers, secrets, now, **options).delivery_id == expected  # type: ignore[arg-type]
    with pytest.raises(HookVerificationError, match="missing header"):
        verify(scheme, body, {}, secrets, now, **options)  # type: ignore[arg-type]


def test_dispatcher_refuses_unknown_schemes_and_options() -> None:
    with pytest.raises(ValueError, match="unknown verification scheme"):
        verify("hmac_md5", b"", {}, ["s"], 0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        verify("github", GH_BODY, gh_headers(), [GH_SECRET], 0, timestamp_header="X-T")


def test_signing_refuses_unusable_secrets() -> None:
    with pytest.raises(ValueError, match="empty"):
        sign_github(b"", "")
    with pytest.raises(ValueError, match="base64"):
        sign_standard_webhooks(b"", "whsec_!!", "id", 0)


# -- nothing secret in any error message -----------------------------------------------------

LEAK_CASES: list[tuple[str, Callable[[], object], Sequence[str]]] = [
    (
        "sw wrong secret",
        lambda: verify_standard_webhooks(SW_BODY, sw_headers(), [SW_OTHER_SECRET], SW_TS),
        [SW_SIG, SW_SIG[3:], SW_OTHER_SECRET, SW_OTHER_SECRET[6:]],
    ),
    (
        "sw tampered",
        lambda: verify_standard_webhooks(b"x", sw_headers(), [SW_SECRET], SW_TS),
        [SW_SIG[3:], SW_SECRET, SW_SECRET[6:]],
    ),
    (
        "sw stale",
        lambda: verify_standard_webhooks(SW_BODY, sw_headers(), [SW_SECRET], SW_TS + 999),
        [SW_SIG[3:], SW_SECRET[6:]],
    ),
    (
        "sw malformed",
        lambda: verify_standard_webhooks(
            SW_BODY, sw_headers(webhook_signature="v1,sEcReTsIg"), [SW_SECRET], SW_TS
        ),
        ["sEcReTsIg", SW_SECRET[6:]],
    ),
    (
        "sw bad whsec",
        lambda: verify_standard_webhooks(SW_BODY, sw_headers(), ["whsec_hunter2!"], SW_TS),
        ["hunter2"],
    ),
    (
        "stripe wrong",
        lambda: verify_stripe(
            STRIPE_BODY, stripe_headers(f"t={STRIPE_TS},v1={STRIPE_HEX}"), ["sk_hunter2"], STRIPE_TS
        ),
        [STRIPE_HEX, "hunter2"],
    ),
    (
        "github wrong",
        lambda: verify_github(GH_BODY, gh_headers(), ["gh-hunter2"], 0),
        [GH_SIG[7:], "hunter2"],
    ),
    (
        "github malformed",
        lambda: verify_github(GH_BODY, gh_headers("sha256=hunter2"), [GH_SECRET], 0),
        ["hunter2", GH_SECRET],
    ),
    (
        "hmac wrong",
        lambda: verify_hmac_sha256(HMAC_BODY, {"X-Signature": HMAC_HEX}, ["hunter2"], 0),
        [HMAC_HEX, "hunter2"],
    ),
    (
        "bearer wrong",
        lambda: verify_bearer(b"", {"Authorization": "Bearer hunter2"}, [BEARER_TOKEN], 0),
        ["hunter2", BEARER_TOKEN],
    ),
    (
        "bearer malformed",
        lambda: verify_bearer(b"", {"Authorization": "Basic hunter2"}, [BEARER_TOKEN], 0),
        ["hunter2", BEARER_TOKEN],
    ),
]


@pytest.mark.parametrize(
    ("call", "secrets"), [c[1:] for c in LEAK_CASES], ids=[c[0] for c in LEAK_CASES]
)
def test_errors_never_carry_secrets_or_signatures(
    call: Callable[[], object], secrets: Sequence[str]
) -> None:
    with pytest.raises(HookVerificationError) as info:
        call()
    shown = " ".join(
        [str(info.value), repr(info.value), info.value.reason, *map(str, info.value.args)]
    )
    for secret in secrets:
        assert secret not in shown
    assert info.value.__cause__ is None


# -- property: arbitrary header values never raise anything else -------------------------------

HEADER_NAMES = [
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "stripe-signature",
    "x-hub-signature-256",
    "x-github-delivery",
    "x-signature",
    "x-timestamp",
    "x-delivery",
    "authorization",
]

header_values = st.one_of(
    st.text(max_size=200),
    st.text(alphabet="v1,=t0123456789abcdefABCDEF+/ sha256", max_size=120),
    st.from_regex(r"[0-9 .+_-]{0,20}", fullmatch=True),
    st.integers().map(str),
    st.from_regex(r"[!-~]{1,40}", fullmatch=True),
    st.sampled_from([SW_SIG, GH_SIG, f"t={STRIPE_TS},v1={STRIPE_HEX}", "Bearer ", HMAC_HEX]),
    st.text(min_size=MAX_HEADER_CHARS, max_size=MAX_HEADER_CHARS + 5, alphabet="ab"),
)


def recased(headers: dict[str, str]) -> st.SearchStrategy[dict[str, str]]:
    names = [st.sampled_from([name, name.upper(), name.title()]) for name in headers]
    return st.tuples(*names).map(lambda chosen: dict(zip(chosen, headers.values(), strict=True)))


header_maps = st.fixed_dictionaries(
    {}, optional={name: header_values for name in HEADER_NAMES}
).flatmap(recased)

ALL_OPTIONS: dict[str, dict[str, object]] = {
    "standard_webhooks": {},
    "stripe": {},
    "github": {},
    "hmac_sha256": {"timestamp_header": "x-timestamp", "delivery_id_header": "x-delivery"},
    "bearer": {"delivery_id_header": "x-delivery"},
}
SECRETS_FOR = {
    "standard_webhooks": [SW_SECRET, "raw"],
    "stripe": [STRIPE_SECRET],
    "github": [GH_SECRET],
    "hmac_sha256": [HMAC_SECRET],
    "bearer": [BEARER_TOKEN],
}


@settings(max_examples=300, deadline=None)
@given(
    scheme=st.sampled_from(SCHEMES),
    body=st.binary(max_size=64),
    headers=header_maps,
    now=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e12, max_value=1e12),
)
def test_arbitrary_headers_only_ever_raise_the_one_error(
    scheme: str, body: bytes, headers: Mapping[str, str], now: float
) -> None:
    try:
        result = verify(scheme, body, headers, SECRETS_FOR[scheme], now, **ALL_OPTIONS[scheme])  # type: ignore[arg-type]
    except HookVerificationError as error:
        assert error.reason
        for secret in SECRETS_FOR[scheme]:
            assert secret not in str(error)
    else:
        # Passing needs a right signature or token, which arbitrary values do not carry except by
        # the sampled known answers; then the body must be the one that was signed.
        assert isinstance(result, Verified)
        assert scheme == "bearer" or body in (SW_BODY, GH_BODY, STRIPE_BODY, HMAC_BODY)


VALID_REQUESTS: dict[str, tuple[bytes, dict[str, str], float, dict[str, object]]] = {
    "standard_webhooks": (SW_BODY, sw_headers(), SW_TS, {}),
    "stripe": (STRIPE_BODY, stripe_headers(f"t={STRIPE_TS},v1={STRIPE_HEX}"), STRIPE_TS, {}),
    "github": (GH_BODY, gh_headers(), 0, {}),
    "hmac_sha256": (
        HMAC_BODY,
        {"X-Signature": HMAC_TS_HEX, "X-Timestamp": str(HMAC_TS), "X-Delivery": "d-1"},
        HMAC_TS,
        {"timestamp_header": "x-timestamp", "delivery_id_header": "x-delivery"},
    ),
    "bearer": (b"", {"Authorization": f"Bearer {BEARER_TOKEN}", "X-Delivery": "d-1"}, 0, {}),
}


@st.composite
def damaged_requests(draw: st.DrawFn) -> tuple[str, dict[str, str], bool]:
    """A valid request for some scheme with some of its headers deleted or replaced."""
    scheme = draw(st.sampled_from(SCHEMES))
    headers = dict(VALID_REQUESTS[scheme][1])
    changed = False
    for name in list(headers):
        action = draw(st.sampled_from(["keep", "delete", "replace"]))
        if action == "delete":
            del headers[name]
            changed = True
        elif action == "replace":
            value = draw(header_values)
            changed |= value != headers[name]
            headers[name] = value
    return scheme, headers, changed


@settings(max_examples=300, deadline=None)
@given(request=damaged_requests())
def test_damaged_valid_requests_only_ever_raise_the_one_error(
    request: tuple[str, dict[str, str], bool],
) -> None:
    scheme, headers, changed = request
    body, _, now, options = VALID_REQUESTS[scheme]
    secrets = SECRETS_FOR[scheme]
    try:
        verify(scheme, body, headers, secrets, now, **options)  # type: ignore[arg-type]
    except HookVerificationError as error:
        assert changed, f"the undamaged request failed: {error.reason}"
