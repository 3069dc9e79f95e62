"""Accepting cues: the one path from the API, hooks and schedules into the outbox.

A cue is stored before anyone is answered: each request waits for the commit of the
transaction that holds its cue (the store commits concurrent writes together, so the
flush to disk is shared, not skipped).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from ..._cue import Cue, check_room, encode_cue
from ..._errors import CueDecodeError, InvalidRequest, RateLimited
from ..._signing import SigningKey
from ...store import CueRecord, NewCue, Store
from .callbacks import AllowList
from .metrics import Metrics
from .ratelimit import RateLimit

Transport = Literal["rpc", "data"]


@dataclass(frozen=True)
class Origin:
    """Who asked for a cue, for idempotency and the record."""

    source: str = "api"
    key_id: str = ""
    idempotency_key: str | None = None
    request_hash: str | None = None
    hook_delivery: tuple[str, str] | None = None
    callback_url: str | None = None
    """Where the cue's final outcome is POSTed (checked against the allow-list)."""
    resent_from: str | None = None


class Intake:
    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        *,
        room_limit: RateLimit,
        default_transport: Transport,
        signing_key: SigningKey,
        live_rooms: Callable[[str | None], Awaitable[list[str]]],
        callbacks: AllowList | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._callbacks = callbacks or AllowList()
        self._store = store
        self._live_rooms = live_rooms
        self._metrics = metrics
        self._rooms = room_limit
        self._transport = default_transport
        self._key = signing_key
        self._clock = clock

    def prepare(
        self,
        room: str,
        cue: Cue,
        *,
        origin: Origin = Origin(),
        transport: Transport | None = None,
        agent_name: str | None = None,
        broadcast_id: str | None = None,
    ) -> NewCue:
        """Check ``cue`` for ``room`` and make it a record to store (no I/O).

        Raises InvalidRequest for a room LiveKit would refuse, CueTooLarge for a cue over
        the limit once signed for its room.
        """
        try:
            check_room(room)
        except CueDecodeError as exc:
            raise InvalidRequest(exc.reason) from None
        encode_cue(cue, secret=self._key, room=room)  # CueTooLarge before anything is stored
        if origin.callback_url is not None:
            self._callbacks.check(origin.callback_url)
        return NewCue(
            id=cue.id,
            room=room,
            transport=transport or self._transport,
            payload=encode_cue(cue).decode(),  # signed for its room when sent
            expires_at=cue.expires_at.timestamp(),
            agent_name=agent_name,
            key_id=origin.key_id,
            idempotency_key=origin.idempotency_key,
            request_hash=origin.request_hash,
            source=origin.source,
            broadcast_id=broadcast_id,
            callback_url=origin.callback_url,
            resent_from=origin.resent_from,
        )

    async def accept(
        self,
        room: str,
        cue: Cue,
        *,
        origin: Origin = Origin(),
        transport: Transport | None = None,
        agent_name: str | None = None,
    ) -> tuple[CueRecord, bool]:
        """Store ``cue`` for ``room`` before anything is sent. Returns (record, newly created)."""
        new = self.prepare(room, cue, origin=origin, transport=transport, agent_name=agent_name)
        wait = await self._rooms.take(room, self._clock())
        if wait > 0:
            self._metrics.rate_limited.labels("room").inc()
            raise RateLimited(f"too many cues for room {room!r}", wait)
        record, created = await self._store.insert_cue(
            new, now=self._clock(), hook_delivery=origin.hook_delivery
        )
        if created:
            self._metrics.transitions.labels("queued").inc()
        elif origin.idempotency_key is not None and (record.key_id, record.idempotency_key) == (
            origin.key_id,
            origin.idempotency_key,
        ):
            if record.request_hash != origin.request_hash:
                raise InvalidRequest(
                    "Idempotency-Key was already used with a different request body"
                )
        elif origin.hook_delivery is None and (
            record.request_hash is None or record.request_hash != origin.request_hash
        ):
            # the sender chose an id another cue already has: the same request again is
            # answered with that cue, anything else is refused (never a second cue, or a 500)
            raise InvalidRequest(f"id: a cue with id {cue.id!r} already exists")
        return record, created

    async def accept_broadcast(
        self,
        rooms: Sequence[str] | None,
        cue: Cue,
        *,
        prefix: str | None = None,
        origin: Origin = Origin(),
        transport: Transport | None = None,
        agent_name: str | None = None,
    ) -> tuple[str, list[CueRecord]]:
        """One cue per room (each its own id), stored in one transaction: to ``rooms``, or
        to the live rooms named ``prefix``... (every live room without either)."""
        if rooms is None:
            rooms = await self._live_rooms(prefix)
        rooms = list(dict.fromkeys(rooms))
        broadcast_id = uuid.uuid4().hex
        cues = [
            self.prepare(
                room,
                cue.replace(id=uuid.uuid4().hex),
                origin=origin,
                transport=transport,
                agent_name=agent_name,
                broadcast_id=broadcast_id,
            )
            for room in rooms
        ]
        records = await self._store.insert_cues(cues, now=self._clock())
        if records:
            self._metrics.transitions.labels("queued").inc(len(records))
        return broadcast_id, records
