"""HMAC-SHA256 signatures over cues, with a shared secret.

Stdlib only and constant-time. A signature is ``v1=<hex>`` over the cue's
canonical JSON (sorted keys, no spaces, the ``sig`` field left out), so sender
and agent compute it from the same bytes whatever order fields arrived in.
"""

from __future__ import annotations

import hashlib
import hmac

from ._errors import SignatureError

_PREFIX = "v1="


def _key(secret: str | bytes) -> bytes:
    key = secret.encode() if isinstance(secret, str) else secret
    if not key:
        raise SignatureError("the signing secret is empty")
    return key


def sign(message: bytes, secret: str | bytes) -> str:
    """Signature of ``message``: ``v1=`` and 64 hex digits."""
    return _PREFIX + hmac.new(_key(secret), message, hashlib.sha256).hexdigest()


def verify(message: bytes, signature: object, secret: str | bytes) -> None:
    """Raise :class:`SignatureError` unless ``signature`` signs ``message``."""
    if not isinstance(signature, str) or not signature:
        raise SignatureError("the cue is not signed and a signature is required")
    if not signature.startswith(_PREFIX):
        raise SignatureError("the cue's signature has an unknown scheme")
    expected = sign(message, secret)
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise SignatureError("the cue's signature does not match")
