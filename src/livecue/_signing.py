"""Signatures over cues: HMAC-SHA256 with a key both ends already hold.

Stdlib only and constant-time.

**The key.** Sender and agent share LiveKit's API secret (an agent worker needs
``LIVEKIT_API_SECRET`` to register), so by default both derive the same
cue-signing key from it; the secret itself never travels and never signs::

    key = HMAC-SHA256(key=LIVEKIT_API_SECRET as UTF-8, msg="livecue/cue-signing/v1")

The derivation is versioned by its label. A deployment whose sender and agent
use different LiveKit API keys of one project (or that wants a key of its own)
sets ``LIVECUE_SECRET`` on both ends, or passes ``secret=``: that secret is then
the HMAC key as it is.

**What is signed.** The canonical JSON (sorted keys, no spaces, UTF-8) of the
wire object without its ``sig`` field. The object carries ``kid``, the key's
name — the LiveKit API key id, or ``"secret"`` for an explicit secret, never a
secret — so a receiver holding a different key reports exactly that, with the
fix, instead of a bare "bad signature". ``sig`` is ``v1=`` and 64 hex digits.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass

from ._errors import ConfigError, SignatureError

SIGNATURE_PREFIX = "v1="
DERIVATION_LABEL = b"livecue/cue-signing/v1"
EXPLICIT_KEY_ID = "secret"
"""The ``kid`` of cues signed with an explicit secret (``LIVECUE_SECRET`` or ``secret=``)."""


@dataclass(frozen=True, repr=False)
class SigningKey:
    """A cue-signing key and the name it goes by on the wire (``kid``)."""

    key_id: str
    key: bytes

    def __post_init__(self) -> None:
        if not self.key:
            raise SignatureError("the signing secret is empty")
        if not self.key_id:
            raise SignatureError("the signing key needs a name (kid)")

    def __repr__(self) -> str:  # the key stays out of logs and tracebacks
        return f"SigningKey(key_id={self.key_id!r})"

    @classmethod
    def from_livekit(cls, api_key: str, api_secret: str) -> SigningKey:
        """The key derived from a LiveKit API key pair (named by the API key id)."""
        if not api_secret:
            raise SignatureError("the LiveKit API secret is empty")
        derived = hmac.new(api_secret.encode(), DERIVATION_LABEL, hashlib.sha256).digest()
        return cls(api_key, derived)

    @classmethod
    def from_secret(cls, secret: str | bytes) -> SigningKey:
        """An explicit shared secret, used as the HMAC key as it is."""
        return cls(EXPLICIT_KEY_ID, secret.encode() if isinstance(secret, str) else secret)

    def describe(self) -> str:
        if self.key_id == EXPLICIT_KEY_ID:
            return "an explicit secret (LIVECUE_SECRET or secret=)"
        return f"the key derived from LiveKit API key {self.key_id!r}"

    def sign(self, message: bytes) -> str:
        """Signature of ``message``: ``v1=`` and 64 hex digits."""
        return SIGNATURE_PREFIX + hmac.new(self.key, message, hashlib.sha256).hexdigest()

    def verify(self, message: bytes, key_id: object, signature: object) -> None:
        """Raise :class:`SignatureError` unless ``signature`` is ours over ``message``."""
        if not isinstance(signature, str) or not signature:
            raise SignatureError(
                "the cue is not signed; this agent accepts signed cues only "
                "(send it with livecue's CueSender, CLI or gateway)"
            )
        if not signature.startswith(SIGNATURE_PREFIX):
            raise SignatureError("the cue's signature has an unknown scheme")
        if isinstance(key_id, str) and key_id != self.key_id:
            raise SignatureError(key_mismatch(key_id, self))
        expected = self.sign(message)
        if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
            raise SignatureError("the cue's signature does not match (altered, or a wrong key)")


def key_mismatch(theirs: str, ours: SigningKey) -> str:
    if theirs == EXPLICIT_KEY_ID:
        signed_with = "an explicit secret (LIVECUE_SECRET or secret=)"
    else:
        signed_with = f"the key derived from LiveKit API key {theirs!r}"
    return (
        f"the cue was signed with {signed_with}, but this agent checks {ours.describe()}: "
        "give sender and agent the same LiveKit API key, or the same LIVECUE_SECRET"
    )


def as_key(secret: str | bytes | SigningKey) -> SigningKey:
    return secret if isinstance(secret, SigningKey) else SigningKey.from_secret(secret)


def key_from_env(
    env: Mapping[str, str | None] | None = None,
    *,
    api_key: str | None = None,
    api_secret: str | None = None,
) -> SigningKey:
    """The key a sender or agent signs and checks with, by default.

    ``LIVECUE_SECRET`` if set; else the key derived from the LiveKit API key pair
    (``api_key``/``api_secret`` if given, else ``LIVEKIT_API_KEY``/``LIVEKIT_API_SECRET``).
    """
    values = os.environ if env is None else env
    explicit = values.get("LIVECUE_SECRET")
    if explicit:
        return SigningKey.from_secret(explicit)
    key_id = api_key or values.get("LIVEKIT_API_KEY")
    secret = api_secret or values.get("LIVEKIT_API_SECRET")
    if not key_id or not secret:
        raise ConfigError(
            "no key to sign or check cues with: set LIVEKIT_API_KEY and LIVEKIT_API_SECRET "
            "(or LIVECUE_SECRET), or pass secret="
        )
    return SigningKey.from_livekit(key_id, secret)
