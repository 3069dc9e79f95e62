"""Accepting cues: the one path from the API, hooks and schedules into the outbox."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..._cue import Cue, check_room, encode_cue
from ..._errors import CueDecodeError
from ..._signing import SigningKey
from ...store import CueRecord, NewCue, Store
from ..errors import RateLimited, Unprocessable
from .metrics import Metrics
from .ratelimit import TokenBuckets

Wake = Callable[[], None]


@dataclass(frozen=True)
class Origin:
    """Who asked for a cue, for idempotency and the record."""

    source: str = "api"
    key_id: str = ""
    idempotency_key: str | None = None
    request_hash: str | None = None
    hook_delivery: tuple[str, str] | None = None


class Intake:
    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        rate_per_room: float,
        default_transport: Literal["rpc", "data"],
        wake: Wake,
        signing_key: SigningKey,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._key = signing_key
        self._metrics = metrics
        self._rooms = TokenBuckets(rate_per_room, burst=max(1.0, 2 * rate_per_room))
        self._transport = default_transport
        self._wake = wake
        self._clock = clock

    async def accept(
        self,
        room: str,
        cue: Cue,
        *,
        origin: Origin = Origin(),
        transport: Literal["rpc", "data"] | None = None,
        agent_name: str | None = None,
        respect_rate_limit: bool = True,
    ) -> tuple[CueRecord, bool]:
        """Store ``cue`` for ``room`` before anything is sent. Returns (record, newly created).

        ``respect_rate_limit=False`` is for the gateway's own schedules.
        """
        _check_room(room)
        encode_cue(cue, secret=self._key, room=room)  # CueTooLarge before anything is stored
        payload = encode_cue(cue).decode()  # signed for its room when sent
        now = self._clock()
        wait = self._rooms.take(room, now) if respect_rate_limit else 0.0
        if wait > 0:
            self._metrics.rate_limited.labels("room").inc()
            raise RateLimited(f"too many cues for room {room!r}", wait)
        record, created = await self._store.insert_cue(
            NewCue(
                id=cue.id,
                room=room,
                transport=transport or self._transport,
                payload=payload,
                expires_at=cue.expires_at.timestamp(),
                agent_name=agent_name,
                key_id=origin.key_id,
                idempotency_key=origin.idempotency_key,
                request_hash=origin.request_hash,
                source=origin.source,
            ),
            now=now,
            hook_delivery=origin.hook_delivery,
        )
        if created:
            self._metrics.transitions.labels("queued").inc()
            self._wake()
        elif origin.idempotency_key is not None and (record.key_id, record.idempotency_key) == (
            origin.key_id,
            origin.idempotency_key,
        ):
            if record.request_hash != origin.request_hash:
                raise Unprocessable(
                    "Idempotency-Key was already used with a different request body"
                )
        elif origin.hook_delivery is None and (
            record.request_hash is None or record.request_hash != origin.request_hash
        ):
            # the sender chose an id another cue already has: the same request again is
            # answered with that cue, anything else is refused (never a second cue, or a 500)
            raise Unprocessable(f"id: a cue with id {cue.id!r} already exists")
        return record, created

    async def accept_broadcast(
        self,
        rooms: Sequence[str],
        cue: Cue,
        *,
        origin: Origin = Origin(),
        transport: Literal["rpc", "data"] | None = None,
        agent_name: str | None = None,
    ) -> tuple[str, list[CueRecord]]:
        """One cue per room (each its own id), stored in one transaction."""
        broadcast_id = uuid.uuid4().hex
        cues = []
        for room in rooms:
            _check_room(room)
            encode_cue(cue, secret=self._key, room=room)  # CueTooLarge before anything is stored
            per_room = cue.replace(id=uuid.uuid4().hex)
            cues.append(
                NewCue(
                    id=per_room.id,
                    room=room,
                    transport=transport or self._transport,
                    payload=encode_cue(per_room).decode(),
                    expires_at=cue.expires_at.timestamp(),
                    agent_name=agent_name,
                    key_id=origin.key_id,
                    source=origin.source,
                    broadcast_id=broadcast_id,
                )
            )
        records = await self._store.insert_cues(cues, now=self._clock())
        if records:
            self._metrics.transitions.labels("queued").inc(len(records))
            self._wake()
        return broadcast_id, records


def _check_room(room: str) -> None:
    """LiveKit's rules for a room name, for every way in (API, hooks, schedules)."""
    try:
        check_room(room)
    except CueDecodeError as exc:
        raise Unprocessable(exc.reason) from None
