"""A schedule fires once per tick, across a graceful restart and a kill -9 of the gateway."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from gwkit import (
    FINAL,
    Stack,
    applied_counts,
    cues_where,
    live_agent,
    room_name,
    running_stack,
    until,
)

from livecue.store import CueFilter, CueRecord

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

RUN_S = 3.0
DOWN_S = 1.5


async def tick_cues(stack: Stack) -> list[CueRecord]:
    return await cues_where(stack, CueFilter(source="schedule"))


def _tick(text: str) -> datetime:
    prefix = "tick "
    assert text.startswith(prefix), text
    return datetime.fromisoformat(text[len(prefix) :])


async def test_every_second_schedule_fires_each_tick_once_across_restarts(tmp_path: Path) -> None:
    room = room_name("sched")
    config = tmp_path / "livecue.yaml"
    config.write_text(
        "schedules:\n"
        "  ticker:\n"
        '    cron: "* * * * * *"\n'  # croniter's sixth field: seconds
        f"    target: {{room: {room}}}\n"
        "    cue:\n"
        "      kind: context\n"
        '      text: "tick {{ tick }}"\n'
        "      ttl_s: 60\n"
    )
    with running_stack(config=config) as stack:
        gateway = stack.gateway
        async with live_agent(stack.livekit, room) as (_observer, agent):
            window_start = time.time()
            await asyncio.sleep(RUN_S)
            await asyncio.to_thread(gateway.stop)  # SIGTERM
            stopped_gracefully = time.time()
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(gateway.start)
            await asyncio.sleep(RUN_S)
            gateway.kill()  # SIGKILL
            killed = time.time()
            await asyncio.sleep(DOWN_S)
            await asyncio.to_thread(gateway.start)
            await asyncio.sleep(RUN_S)
            window_end = time.time()

            async def settled() -> list[CueRecord] | None:
                rows = [r for r in await tick_cues(stack) if r.created_at < window_end]
                return rows if rows and all(r.state in FINAL for r in rows) else None

            await until(settled, timeout=20, what="the window's tick cues to be final")
            async with stack.client() as c:
                assert (await c.get("/healthz")).status_code == 200
            await asyncio.to_thread(gateway.stop)

            rows = sorted(await tick_cues(stack), key=lambda r: r.created_at)
            ticks = [_tick(json.loads(r.payload)["text"]) for r in rows]
            seconds = [t.timestamp() for t in ticks]

            # one cue per tick, consecutive seconds, over the whole window
            duplicates = [t for t, n in Counter(seconds).items() if n > 1]
            assert duplicates == []
            ordered = sorted(ticks)
            gaps = [
                (a.isoformat(), b.isoformat())
                for a, b in itertools.pairwise(ordered)
                if b - a != timedelta(seconds=1)
            ]
            assert gaps == []
            assert min(seconds) <= window_start + 1.5
            assert max(seconds) >= window_end - 1.5
            # the downtimes are inside the window: their ticks were caught up on start
            for down in (stopped_gracefully, killed):
                assert any(down < s < down + DOWN_S for s in seconds)
            assert all(r.room == room for r in rows)

            # at the agent: each delivered tick acted on exactly once, nothing else
            delivered = {r.id for r in rows if r.state == "delivered"}
            applied = applied_counts(agent)
            assert set(applied) == delivered
            assert set(applied.values()) == {1}
            seen = sorted(
                _tick(e.cue.text or "")
                for e in agent.events
                if e.type == "cue_applied" and e.outcome.status == "applied"
            )
            assert len(seen) == len(set(seen)) == len(delivered)
            assert len(delivered) >= len(rows) - 2  # at most the last tick or two undelivered
