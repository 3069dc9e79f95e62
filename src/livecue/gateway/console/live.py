"""Live pages: a server-sent event each time cues change, so an open page refreshes itself.

The stream says only *that* cues changed (and which); the page then fetches itself again
and swaps in its live parts, so what it shows is always rendered — and escaped — by the
same templates as a first load. Changes come from polling ``store.cues_changed``: it works
alike on SQLite and PostgreSQL and on every instance, and costs one indexed query per open
page per poll.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import Response, StreamingResponse

from ...store import CueRecord
from ..deps import GatewayDep
from .auth import operator_of

router = APIRouter()

POLL_S = 0.5
KEEPALIVE_S = 15.0
OVERLAP_S = 2.0
"""How far back each poll looks again: a transaction that took its time before it
committed can hold a change a little older than the newest one seen."""


BATCH = 200


@dataclass
class ChangeTracker:
    """Which changes are new, given each poll's changes after :attr:`since`, oldest first
    (so none is missed, and none is told twice)."""

    cursor: float
    """The newest change seen."""
    seen: set[tuple[str, float]] = field(default_factory=set)
    behind: bool = False
    """The last poll was a full batch: page on from the cursor before looking back."""

    @property
    def since(self) -> float:
        return self.cursor if self.behind else self.cursor - OVERLAP_S

    def new(self, changed: Sequence[CueRecord], *, full: bool) -> list[CueRecord]:
        """The changes not told yet among ``changed`` (``full``: the query's limit was hit)."""
        fresh = [r for r in changed if (r.id, r.updated_at) not in self.seen]
        for record in fresh:
            self.seen.add((record.id, record.updated_at))
            self.cursor = max(self.cursor, record.updated_at)
        self.behind = full
        self.seen = {s for s in self.seen if s[1] > self.cursor - OVERLAP_S}
        return fresh


def event(changed: Sequence[CueRecord], cursor: float) -> str:
    data = json.dumps({"cues": [r.id for r in changed]})
    return f"id: {cursor!r}\nevent: change\ndata: {data}\n\n"


def _start(after: float | None, last_event_id: str | None, now: float) -> float:
    """Where a stream starts: the event a reconnecting browser saw last, or the moment the
    page was rendered, and never in the future."""
    for candidate in (last_event_id, after):
        try:
            if candidate is not None:
                return min(float(candidate), now)
        except ValueError:
            continue
    return now


@router.get("/events")
async def events(
    request: Request,
    gateway: GatewayDep,
    after: Annotated[float | None, Query()] = None,
    cue: Annotated[str | None, Query(max_length=64)] = None,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> Response:
    """Server-sent events: ``change`` whenever cues change (only ``cue``, if given). Without a
    valid session the answer is 204, which tells a browser's EventSource to stop."""
    if await operator_of(request, gateway) is None:
        return Response(status_code=204)
    tracker = ChangeTracker(_start(after, last_event_id, gateway.clock()))

    async def stream() -> AsyncIterator[str]:
        yield "retry: 2000\n\n"
        quiet = 0.0
        while not gateway.draining:
            batch = await gateway.store.cues_changed(after=tracker.since, limit=BATCH)
            changed = tracker.new(batch, full=len(batch) >= BATCH)
            if cue is not None:
                changed = [r for r in changed if r.id == cue]
            if changed:
                yield event(changed, tracker.cursor)
                quiet = 0.0
            elif quiet >= KEEPALIVE_S:
                yield ": still here\n\n"
                quiet = 0.0
            await asyncio.sleep(POLL_S)
            quiet += POLL_S
            if await operator_of(request, gateway) is None:
                return  # signed out or key revoked: the browser reconnects, and gets a 204

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
