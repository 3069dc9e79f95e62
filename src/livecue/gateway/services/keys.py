"""API keys: ``lck_<id>_<secret>``, stored as the id and a SHA-256 of the secret.

The secret is 192 random bits, so a fast hash is enough: there is nothing to
brute-force, and verification stays cheap on every request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from ...store import KeyRecord, Store
from .callbacks import AllowList

PREFIX = "lck"


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    secret_hash: str
    token: str
    """The whole key, shown once to its owner and never stored."""


def issue() -> IssuedKey:
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(24)
    return IssuedKey(key_id, hash_secret(secret), f"{PREFIX}_{key_id}_{secret}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    prefix, _, rest = token.partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not key_id or not secret:
        return None
    return key_id, secret


def matches(secret: str, secret_hash: str) -> bool:
    return hmac.compare_digest(hash_secret(secret), secret_hash)


async def create(
    store: Store,
    scopes: Sequence[str],
    *,
    name: str | None,
    now: float,
    allow: AllowList,
    callback_url: str | None = None,
    field: str = "callback_url",
) -> tuple[KeyRecord, str]:
    """Issue a key and store its hash; returns its record and the token, which the caller
    shows once. A callback URL must be on the allow-list (InvalidRequest naming ``field``)."""
    if callback_url is not None:
        allow.check(callback_url, field)
    issued = issue()
    await store.add_key(
        issued.key_id,
        issued.secret_hash,
        sorted(set(scopes)),
        name=name,
        now=now,
        callback_url=callback_url,
    )
    record = await store.get_key(issued.key_id)
    assert record is not None  # written just now
    return record, issued.token
