"""Room-admin access tokens for LiveKit's server API, signed once per room and reused.

livekit-api signs a new token for every request; signing one costs about 0.2 ms of
CPU (mostly copying its claims), a fifth of a whole send. A broadcast that reaches
the same rooms again, or a gateway that keeps sending to a busy room, signs once per
room every few minutes instead. Tokens come from livekit-api's ``AccessToken``, so
their format is the SDK's.
"""

from __future__ import annotations

import datetime
from collections import OrderedDict

from livekit.api import AccessToken, VideoGrants

TOKEN_TTL_S = 900.0
"""How long a token is valid (LiveKit checks ``exp``)."""
REUSE_S = 300.0
"""How long one is reused: well inside its validity, whatever the request's delays."""


class RoomTokens:
    """``authorization`` headers with a room-admin grant, per room, reused for ``reuse_s``."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        reuse_s: float = REUSE_S,
        max_rooms: int = 10_000,
    ) -> None:
        if not 0 < reuse_s < TOKEN_TTL_S:
            raise ValueError(f"reuse_s must be between 0 and {TOKEN_TTL_S}")
        self._key = api_key
        self._secret = api_secret
        self._reuse_s = reuse_s
        self._max = max_rooms
        self._headers: OrderedDict[str, tuple[dict[str, str], float]] = OrderedDict()

    def header(self, room: str, now: float) -> dict[str, str]:
        """The header for a request about ``room`` at ``now`` (monotonic seconds)."""
        cached = self._headers.get(room)
        if cached is not None and 0 <= now - cached[1] < self._reuse_s:
            self._headers.move_to_end(room)  # the busiest rooms stay
            return cached[0]
        token = (
            AccessToken(self._key, self._secret)
            .with_ttl(datetime.timedelta(seconds=TOKEN_TTL_S))
            .with_grants(VideoGrants(room_admin=True, room=room))
            .to_jwt()
        )
        header = {"authorization": f"Bearer {token}"}
        self._headers[room] = (header, now)
        self._headers.move_to_end(room)
        while len(self._headers) > self._max:
            self._headers.popitem(last=False)
        return header

    def __len__(self) -> int:
        return len(self._headers)
