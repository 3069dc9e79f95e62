"""Verify inbound webhooks: Standard Webhooks, Stripe, GitHub, plain HMAC-SHA256, bearer token.

Stdlib only, no clock (``now`` is a parameter, unix seconds), constant-time comparisons, and every
malformed, missing, stale or wrong input raises one error type, :class:`HookVerificationError`,
whose ``reason`` is short and safe to log or answer with: it names headers and what was wrong with
them, never a secret, a token or a signature.

Each ``verify_*`` function takes the raw body, the request headers (looked up case-insensitively),
the configured secrets and ``now``, and returns :class:`Verified`. Several secrets may be
configured: a request passes when any signature it carries matches any secret, so a sender can
rotate keys without downtime. Replay protection is the caller's half of the job: the timestamp
window is checked here; the delivery id in :class:`Verified` must be deduplicated by the caller.

Scheme notes:

- **Standard Webhooks** (https://www.standardwebhooks.com): ``webhook-id``, ``webhook-timestamp``,
  ``webhook-signature`` (space-separated ``v1,<base64>``; other versions such as ``v1a`` are
  ignored). The signed content is ``{id}.{timestamp}.{body}``. ``whsec_<base64>`` secrets are
  base64-decoded; a secret without the prefix is used as its UTF-8 bytes. The timestamp must lie
  within ``tolerance_s`` of ``now`` either side. The delivery id is ``webhook-id`` (signed).
- **Stripe**: ``Stripe-Signature: t=<ts>,v1=<hex>[,v1=<hex>...]`` over ``{t}.{body}``, keyed with
  the secret's UTF-8 bytes as given (``whsec_`` included, not decoded: that is what Stripe does).
  The window is checked in both directions (Stripe's own libraries only refuse old timestamps).
  The delivery id is the event's ``id`` inside the body: :class:`Verified` leaves it ``None``.
- **GitHub**: ``X-Hub-Signature-256: sha256=<hex>`` over the body. GitHub sends no timestamp, so
  there is no window: replay protection rests entirely on deduplicating ``X-GitHub-Delivery``, and
  that header is *not* signed — someone who captured one delivery can resend its body with a fresh
  delivery id. Callers that care should also deduplicate on a hash of the body.
- **Plain HMAC-SHA256**: a configurable header (default ``X-Signature``) holding one or more hex
  digests, each optionally ``sha256=``-prefixed, separated by commas or spaces. With a timestamp
  header configured the signed content is ``{timestamp}.{body}`` and the window applies; without
  one there is no replay protection beyond delivery-id dedup. The delivery-id header, if
  configured, is not signed.
- **Bearer**: ``Authorization: Bearer <token>``, compared in constant time (over SHA-256 digests,
  so not even the token's length leaks) with each configured token. Not a signature: the body is
  not authenticated, and anyone holding the token can send anything.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ._errors import LivecueError

__all__ = [
    "DEFAULT_TOLERANCE_S",
    "SCHEMES",
    "HookVerificationError",
    "Scheme",
    "Verified",
    "sign_github",
    "sign_hmac_sha256",
    "sign_standard_webhooks",
    "sign_stripe",
    "verify",
    "verify_bearer",
    "verify_github",
    "verify_hmac_sha256",
    "verify_standard_webhooks",
    "verify_stripe",
]

Scheme = Literal["standard_webhooks", "stripe", "github", "hmac_sha256", "bearer"]
SCHEMES: tuple[Scheme, ...] = ("standard_webhooks", "stripe", "github", "hmac_sha256", "bearer")

DEFAULT_TOLERANCE_S = 300.0
#: Longest header value looked at; anything longer is refused before any parsing.
MAX_HEADER_CHARS = 8192

_WHSEC_PREFIX = "whsec_"
_DIGEST_BYTES = hashlib.sha256().digest_size
_HEX_DIGEST = re.compile(r"[0-9a-fA-F]{64}")
_TIMESTAMP = re.compile(r"[0-9]{1,15}")
# Printable ASCII without spaces: it is a dedup key and (Standard Webhooks) part of signed content.
_DELIVERY_ID = re.compile(r"[\x21-\x7e]{1,256}")
_SEPARATORS = re.compile(r"[,\s]+")


class HookVerificationError(LivecueError):
    """An inbound webhook failed verification; answer 401 and act on nothing.

    ``reason`` is short and safe to log: it never contains a secret or a signature.
    """

    def __init__(self, reason: str, *, stale: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.stale = stale
        """The signature was not checked: the timestamp is outside the window."""


@dataclass(frozen=True)
class Verified:
    """What verification learned about a request that passed it."""

    #: The sender's id for this delivery, for the caller's replay dedup; ``None`` when the scheme
    #: carries none in a header (Stripe: take the event ``id`` from the body).
    delivery_id: str | None
    #: The signed timestamp (unix seconds), ``None`` for schemes without one.
    timestamp: float | None


# -- helpers ----------------------------------------------------------------------------------


class _Headers:
    """Case-insensitive, read-only view; a header given twice with different values is refused."""

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._values: dict[str, list[object]] = {}
        for key in headers:
            if isinstance(key, str):
                self._values.setdefault(key.lower(), []).append(headers[key])

    def get(self, name: str) -> str | None:
        name = name.lower()
        values = self._values.get(name)
        if not values:
            return None
        first = values[0]
        if any(value != first for value in values[1:]):
            raise HookVerificationError(f"header {name} is given more than once")
        if not isinstance(first, str):
            raise HookVerificationError(f"malformed header {name}")
        if len(first) > MAX_HEADER_CHARS:
            raise HookVerificationError(f"header {name} is too long")
        value = first.strip()
        return value or None

    def require(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise HookVerificationError(f"missing header {name.lower()}")
        return value

    def delivery_id(self, name: str | None) -> str | None:
        """The optional delivery-id header ``name`` (none configured: ``None``)."""
        if name is None or self.get(name) is None:
            return None
        return self.required_id(name)

    def required_id(self, name: str) -> str:
        value = self.require(name)
        if not _DELIVERY_ID.fullmatch(value):
            raise HookVerificationError(f"malformed header {name.lower()}")
        return value

    def timestamp(self, name: str) -> str:
        value = self.require(name)
        if not _TIMESTAMP.fullmatch(value):
            raise HookVerificationError(f"malformed header {name.lower()}")
        return value


def _check_secrets(secrets: Sequence[str]) -> None:
    # A bare string is a Sequence[str] too: each character would become a one-letter secret.
    if isinstance(secrets, (str, bytes)):
        raise TypeError("secrets must be a sequence of strings, not a single string")
    if not secrets:
        raise HookVerificationError("no secret is configured")


def _key(secret: str, *, decode_whsec: bool) -> bytes:
    """The HMAC key for ``secret``; ``ValueError`` (with a safe message) if it is unusable."""
    if not isinstance(secret, str) or not secret:
        raise ValueError("a configured secret is empty")
    if decode_whsec and secret.startswith(_WHSEC_PREFIX):
        try:
            key = base64.b64decode(secret[len(_WHSEC_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("a configured whsec_ secret is not valid base64") from None
        if not key:
            raise ValueError("a configured secret is empty")
        return key
    return secret.encode()


def _keys(secrets: Sequence[str], *, decode_whsec: bool = False) -> list[bytes]:
    _check_secrets(secrets)
    try:
        return [_key(secret, decode_whsec=decode_whsec) for secret in secrets]
    except ValueError as error:
        raise HookVerificationError(str(error)) from None


def _mac(key: bytes, content: bytes) -> bytes:
    return hmac.new(key, content, hashlib.sha256).digest()


def _any_match(expected: Sequence[bytes], provided: Sequence[bytes]) -> bool:
    # Every pair is compared, so the time taken does not depend on which one matched.
    matched = False
    for mine in expected:
        for theirs in provided:
            matched |= hmac.compare_digest(mine, theirs)
    return matched


def _hex_digest(text: str) -> bytes | None:
    return bytes.fromhex(text) if _HEX_DIGEST.fullmatch(text) else None


def _optionally_prefixed_hex_digest(text: str) -> bytes | None:
    """A hex digest, with or without a ``sha256=`` prefix (in any case)."""
    prefix = "sha256="
    return _hex_digest(text[len(prefix) :] if text.lower().startswith(prefix) else text)


def _base64_digest(text: str) -> bytes | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == _DIGEST_BYTES else None


def _digests(
    candidates: Iterable[str], parse: Callable[[str], bytes | None], problem: str
) -> list[bytes]:
    """The candidates that ``parse`` reads as digests; ``problem`` is raised if none does."""
    provided = [digest for digest in map(parse, candidates) if digest is not None]
    if not provided:
        raise HookVerificationError(problem)
    return provided


def _timestamped(timestamp: str | int, body: bytes) -> bytes:
    """``{timestamp}.{body}``: what Stripe and a plain HMAC with a timestamp header sign."""
    return f"{timestamp}.".encode() + body


def _check_window(timestamp: str, now: float, tolerance_s: float) -> float:
    value = float(int(timestamp))
    if abs(now - value) > tolerance_s:
        raise HookVerificationError("timestamp outside the tolerance window", stale=True)
    return value


def _require_match(keys: Sequence[bytes], content: bytes, provided: Sequence[bytes]) -> None:
    if not _any_match([_mac(key, content) for key in keys], provided):
        raise HookVerificationError("signature does not match")


# -- verification ----------------------------------------------------------------------------


def verify_standard_webhooks(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> Verified:
    """Verify a Standard Webhooks delivery; the delivery id is its ``webhook-id``."""
    keys = _keys(secrets, decode_whsec=True)
    h = _Headers(headers)
    msg_id = h.required_id("webhook-id")
    raw_ts = h.timestamp("webhook-timestamp")
    entries = (entry.partition(",") for entry in h.require("webhook-signature").split())
    provided = _digests(
        (value for version, comma, value in entries if comma and version == "v1"),
        _base64_digest,
        "no v1 signature in header webhook-signature",
    )
    timestamp = _check_window(raw_ts, now, tolerance_s)
    _require_match(keys, f"{msg_id}.{raw_ts}.".encode() + body, provided)
    return Verified(delivery_id=msg_id, timestamp=timestamp)


def verify_stripe(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> Verified:
    """Verify a Stripe delivery; the delivery id (the event ``id``) is in the body, not here."""
    keys = _keys(secrets)
    header = _Headers(headers).require("stripe-signature")
    stamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        name, equals, value = item.strip().partition("=")
        if equals and name == "t":
            stamps.append(value)
        elif equals and name == "v1":
            signatures.append(value)
    if len(stamps) != 1 or not _TIMESTAMP.fullmatch(stamps[0]):
        raise HookVerificationError("malformed header stripe-signature")
    provided = _digests(signatures, _hex_digest, "no v1 signature in header stripe-signature")
    timestamp = _check_window(stamps[0], now, tolerance_s)
    _require_match(keys, _timestamped(stamps[0], body), provided)
    return Verified(delivery_id=None, timestamp=timestamp)


def verify_github(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> Verified:
    """Verify a GitHub delivery (``X-Hub-Signature-256``).

    GitHub signs no timestamp, so ``now`` and ``tolerance_s`` are unused: replays are caught only
    by deduplicating ``X-GitHub-Delivery``, which is not signed (see the module docstring).
    """
    del now, tolerance_s
    keys = _keys(secrets)
    h = _Headers(headers)
    header = h.require("x-hub-signature-256")
    prefix, equals, value = header.partition("=")
    digest = _hex_digest(value) if equals and prefix == "sha256" else None
    if digest is None:
        raise HookVerificationError("malformed header x-hub-signature-256")
    delivery_id = h.delivery_id("x-github-delivery")
    _require_match(keys, body, [digest])
    return Verified(delivery_id=delivery_id, timestamp=None)


def verify_hmac_sha256(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    *,
    signature_header: str = "X-Signature",
    timestamp_header: str | None = None,
    delivery_id_header: str | None = None,
) -> Verified:
    """Verify a plain HMAC-SHA256 of the body (or of ``{timestamp}.{body}``), hex-encoded."""
    keys = _keys(secrets)
    h = _Headers(headers)
    provided = _digests(
        _SEPARATORS.split(h.require(signature_header)),
        _optionally_prefixed_hex_digest,
        f"malformed header {signature_header.lower()}",
    )
    timestamp: float | None = None
    content = body
    if timestamp_header is not None:
        raw_ts = h.timestamp(timestamp_header)
        timestamp = _check_window(raw_ts, now, tolerance_s)
        content = _timestamped(raw_ts, body)
    delivery_id = h.delivery_id(delivery_id_header)
    _require_match(keys, content, provided)
    return Verified(delivery_id=delivery_id, timestamp=timestamp)


def verify_bearer(
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: float,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    *,
    delivery_id_header: str | None = None,
) -> Verified:
    """Check ``Authorization: Bearer <token>`` against the configured tokens (``secrets``)."""
    del body, now, tolerance_s
    _check_secrets(secrets)
    if any(not isinstance(token, str) or not token for token in secrets):
        raise HookVerificationError("a configured secret is empty")
    h = _Headers(headers)
    scheme, space, token = h.require("authorization").partition(" ")
    token = token.strip()
    if not space or scheme.lower() != "bearer" or not token:
        raise HookVerificationError("malformed header authorization")
    delivery_id = h.delivery_id(delivery_id_header)
    # Hash both sides first: compare_digest leaks lengths, digests all have the same one.
    expected = [hashlib.sha256(secret.encode()).digest() for secret in secrets]
    if not _any_match(expected, [hashlib.sha256(token.encode("utf-8", "replace")).digest()]):
        raise HookVerificationError("token does not match")
    return Verified(delivery_id=delivery_id, timestamp=None)


_VERIFIERS: dict[str, Callable[..., Verified]] = {
    "standard_webhooks": verify_standard_webhooks,
    "stripe": verify_stripe,
    "github": verify_github,
    "hmac_sha256": verify_hmac_sha256,
    "bearer": verify_bearer,
}


def verify(
    scheme: Scheme,
    body: bytes,
    headers: Mapping[str, str],
    secrets: Sequence[str],
    now: float,
    **options: object,
) -> Verified:
    """Verify with the named scheme; ``options`` go to its ``verify_*`` function.

    An unknown scheme or option is a configuration mistake (``ValueError`` / ``TypeError``),
    not a verification failure.
    """
    try:
        verifier = _VERIFIERS[scheme]
    except KeyError:
        raise ValueError(f"unknown verification scheme {scheme!r}") from None
    return verifier(body, headers, secrets, now, **options)


# -- signing (tests, and users' own senders) ---------------------------------------------------


def sign_standard_webhooks(body: bytes, secret: str, msg_id: str, timestamp: int) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    key = _key(secret, decode_whsec=True)  # ValueError on an unusable secret, here and below
    signature = base64.b64encode(_mac(key, f"{msg_id}.{timestamp}.".encode() + body)).decode()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": f"v1,{signature}",
    }


def sign_stripe(body: bytes, secret: str, timestamp: int) -> str:
    """A ``Stripe-Signature`` header value for ``body``."""
    digest = _mac(_key(secret, decode_whsec=False), _timestamped(timestamp, body)).hex()
    return f"t={timestamp},v1={digest}"


def sign_github(body: bytes, secret: str) -> str:
    """An ``X-Hub-Signature-256`` header value for ``body``."""
    return "sha256=" + _mac(_key(secret, decode_whsec=False), body).hex()


def sign_hmac_sha256(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """A plain HMAC-SHA256 header value (``sha256=<hex>``) for ``body``.

    With ``timestamp``, the signed content is ``{timestamp}.{body}``; send the timestamp in the
    header configured as the hook's timestamp header.
    """
    content = body if timestamp is None else _timestamped(timestamp, body)
    return "sha256=" + _mac(_key(secret, decode_whsec=False), content).hex()
