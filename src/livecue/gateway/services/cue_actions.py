"""What an operator or integrator does to a cue after the fact: cancel it, send it again."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone

from ..._cue import decode_cue, new_cue_id
from ..._errors import Conflict, NotFound
from ...store import CueRecord, Store
from .intake import Intake, Origin
from .metrics import Metrics


class CueActions:
    def __init__(
        self,
        store: Store,
        intake: Intake,
        metrics: Metrics,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._intake = intake
        self._metrics = metrics
        self._clock = clock

    async def cancel(self, cue_id: str, *, by: str) -> CueRecord:
        """Cancel a cue no agent has yet (``by`` is recorded: who asked). Cancelling a
        cancelled cue again answers the same; any other cue is a Conflict that says why."""
        record, cancelled = await self._store.cancel(cue_id, now=self._clock(), by=by)
        if record is None:
            raise NotFound(f"no cue with id {cue_id!r}")
        if cancelled:
            self._metrics.transitions.labels("cancelled").inc()
            return record
        if record.state == "cancelled":
            return record
        if record.state == "at_agent":
            raise Conflict(
                f"cue {cue_id!r} is already at agent {record.agent_identity!r} "
                "and cannot be cancelled"
            )
        if record.fetched_at is not None and not record.final:
            raise Conflict(
                f"cue {cue_id!r} was fetched by an agent joining room {record.room!r} "
                "and may be acted on at any moment; it cannot be cancelled"
            )
        if record.state == "sending":
            raise Conflict(
                f"cue {cue_id!r} is being handed to an agent right now and cannot be "
                "cancelled; ask again in a moment to see where it went"
            )
        raise Conflict(f"cue {cue_id!r} is final already ({record.state}) and cannot be cancelled")

    async def resend(self, cue_id: str, *, origin: Origin) -> CueRecord:
        """A new cue with the same content, room, transport and callback, a fresh id and
        lifetime (the original's ttl from now), linked to the original."""
        original = await self._store.get_cue(cue_id)
        if original is None:
            raise NotFound(f"no cue with id {cue_id!r}")
        cue = decode_cue(original.payload, legacy=False)
        now = datetime.fromtimestamp(self._clock(), tz=timezone.utc)
        fresh = cue.replace(
            id=new_cue_id(), created_at=now, expires_at=now + (cue.expires_at - cue.created_at)
        )
        record, _ = await self._intake.accept(
            original.room,
            fresh,
            origin=Origin(
                source=origin.source,
                key_id=origin.key_id,
                callback_url=original.callback_url,
                resent_from=original.id,
            ),
            transport=original.transport,
            agent_name=original.agent_name,
        )
        return record
