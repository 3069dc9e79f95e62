"""Console sessions, CSRF tokens and sign-in redirects: pure functions of a secret and ``now``.

The session cookie holds ``{key id, session id, expiry}`` signed with a secret derived from
the gateway's signing key, so every instance reads the cookies of every other and a restart
signs nobody out, without a table of sessions. It never holds the key's secret: whoever
reads the cookie learns which key signed in, not the key. Each request checks afresh that
the key still exists, is not revoked and holds the admin scope (see ``auth``).

A form's CSRF token is an HMAC of the session id: bound to one session, never stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import urllib.parse
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeSerializer

from ..._signing import SigningKey

LABEL = b"livecue/console-session/v1"
ROOT = "/console"


def console_secret(signing_key: SigningKey) -> bytes:
    """The console's secret: the same on every instance that shares the signing key."""
    return hmac.new(signing_key.key, LABEL, hashlib.sha256).digest()


@dataclass(frozen=True)
class Session:
    key_id: str
    sid: str
    """A random id of this sign-in: what CSRF tokens are bound to."""
    expires_at: float


def new_session(key_id: str, *, now: float, lifetime_s: float) -> Session:
    return Session(key_id, secrets.token_urlsafe(16), now + lifetime_s)


class Sessions:
    """Encodes sessions into cookie values and back, and makes and checks CSRF tokens."""

    def __init__(self, secret: bytes) -> None:
        self._serializer = URLSafeSerializer(secret, salt="livecue-console-session")
        self._csrf_key = hmac.new(secret, b"csrf", hashlib.sha256).digest()

    def encode(self, session: Session) -> str:
        return self._serializer.dumps([session.key_id, session.sid, round(session.expires_at)])

    def decode(self, cookie: str | None, *, now: float) -> Session | None:
        """The session in ``cookie``; None if it is missing, forged, malformed or expired."""
        if not cookie:
            return None
        try:
            fields = self._serializer.loads(cookie)
        except BadSignature:
            return None
        if not (
            isinstance(fields, list)
            and len(fields) == 3
            and isinstance(fields[0], str)
            and isinstance(fields[1], str)
            and isinstance(fields[2], int)
        ):
            return None
        session = Session(fields[0], fields[1], float(fields[2]))
        return session if now < session.expires_at else None

    def csrf_token(self, session: Session) -> str:
        return hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).hexdigest()

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        """Whether ``token`` is this session's (constant-time)."""
        return token is not None and hmac.compare_digest(
            self.csrf_token(session).encode(), token.encode()
        )


def safe_next(target: str | None) -> str:
    """Where to go after signing in: ``target`` if it is a console path on this site, else
    the overview — never another site (no open redirect)."""
    default = ROOT + "/"
    if not target or not target.startswith(ROOT):
        return default
    if len(target) > len(ROOT) and target[len(ROOT)] not in "/?":
        return default  # /consolex, /console.evil.example
    if "\\" in target or any(ord(c) < 0x21 or ord(c) == 0x7F for c in target):
        return default  # browsers read "\" as "/" and drop tabs and newlines
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    # browsers resolve %2e%2e as "..": judge the path as they will read it
    segments = urllib.parse.unquote(parts.path).split("/")
    if any(segment in (".", "..") for segment in segments) or "" in segments[1:-1]:
        return default  # /console/../v1, /console/.//, /console//evil.example
    return target
