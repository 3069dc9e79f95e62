"""Crashes and outages under load: the gateway killed with SIGKILL, livekit-server stopped.

Every cue that got a 202 must end delivered, expired or failed, none may be lost, and the agent
must act on none twice (a resend after a crash is answered "duplicate" by the agent's dedup).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest
from gwkit import (
    FINAL,
    Stack,
    applied_counts,
    cues_where,
    live_agent,
    received_ids,
    room_name,
    running_stack,
    store_of,
    until,
    until_true,
)
from livekit import rtc

from harness.agent import RunningAgent, start_agent
from harness.observer import Observer
from harness.participants import wait_until_reachable

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

UNLIMITED = {"LIVECUE_RATE_PER_ROOM": "1000000", "LIVECUE_RATE_PER_KEY": "1000000"}


@dataclass
class Load:
    """Cue ``i`` is posted with ``Idempotency-Key: {tag}-{i}`` until some answer is a 202."""

    stack: Stack
    room: str
    tag: str
    ids: dict[int, str] = field(default_factory=dict)
    transport_errors: int = 0
    statuses: Counter[int] = field(default_factory=Counter)

    def body(self, i: int) -> dict[str, object]:
        return {"kind": "context", "text": f"{self.tag} note {i}", "ttl_s": 600}

    async def post(self, client: httpx.AsyncClient, i: int) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                r = await client.post(
                    f"/v1/rooms/{self.room}/cues",
                    json=self.body(i),
                    headers={"Idempotency-Key": f"{self.tag}-{i}"},
                )
            except httpx.TransportError:  # the gateway is down: try again, same key
                self.transport_errors += 1
                await asyncio.sleep(0.1)
                continue
            self.statuses[r.status_code] += 1
            if r.status_code == 202:
                self.ids[i] = r.json()["id"]
                return
            if r.status_code == 429:
                await asyncio.sleep(float(r.headers["retry-after"]))
                continue
            raise AssertionError(f"cue {i}: unexpected {r.status_code} {r.text}")
        raise AssertionError(f"cue {i} was never accepted")

    async def run(self, indices: range, concurrency: int, pace_s: float = 0.0) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in indices:
            queue.put_nowait(i)
        async with self.stack.client(timeout=15.0) as client:

            async def worker() -> None:
                while not queue.empty():
                    await self.post(client, queue.get_nowait())
                    if pace_s:
                        await asyncio.sleep(pace_s)

            await asyncio.gather(*(worker() for _ in range(concurrency)))


async def states_of(stack: Stack) -> dict[str, str]:
    return {r.id: r.state for r in await cues_where(stack)}


async def all_final(stack: Stack, ids: set[str], timeout: float) -> dict[str, str]:
    async def check() -> dict[str, str] | None:
        states = await states_of(stack)
        return states if all(states.get(i) in FINAL for i in ids) else None

    try:
        return await until(check, timeout=timeout, interval=0.5, what="every cue to be final")
    except AssertionError:
        counts = Counter((await states_of(stack)).get(i) for i in ids)
        raise AssertionError(f"not every cue reached a final state: {dict(counts)}") from None


async def test_kill_9_during_a_2000_cue_load_loses_none_and_repeats_none() -> None:
    total = 2000
    with running_stack(env=UNLIMITED) as stack:
        room = room_name("crash")
        async with live_agent(stack.livekit, room) as (_observer, agent):
            load = Load(stack, room, "crash")
            kills: list[int] = []

            async def crash_twice() -> None:
                for threshold in (600, 1300):
                    await until_true(
                        lambda t=threshold: len(load.ids) >= t,  # type: ignore[misc]
                        timeout=60,
                        what=f"{threshold} accepted cues",
                    )
                    stack.gateway.kill()  # SIGKILL: no shutdown, no draining
                    kills.append(len(load.ids))
                    await asyncio.sleep(0.3)
                    await asyncio.to_thread(stack.gateway.start)

            await asyncio.gather(load.run(range(total), concurrency=16), crash_twice())

            assert len(kills) == 2 and all(0 < k < total for k in kills), kills
            assert load.transport_errors > 0  # requests really were cut off by the kills
            assert sorted(load.ids) == list(range(total))
            ids = set(load.ids.values())
            assert len(ids) == total  # one cue per Idempotency-Key, across both crashes

            states = await all_final(stack, ids, timeout=60)
            # nothing but the load's cues was stored: no retried POST made a second cue
            assert set(states) == ids
            assert Counter(states.values()) == {"delivered": total}

            applied = applied_counts(agent)
            assert set(applied) == ids  # every cue acted on...
            assert max(applied.values()) == 1  # ...and none twice
            received = Counter(received_ids(agent))
            duplicates = [e for e in agent.events if e.type == "cue_dropped"]
            assert all(e.outcome.status == "duplicate" for e in duplicates)
            assert sum(received.values()) == total + len(duplicates)

        records = await cues_where(stack)
        recovered = sum(r.attempts > 1 for r in records)  # sent again after a kill
        outcomes = Counter(r.outcome for r in records)
        print(
            f"kills after {kills} accepted; {load.transport_errors} cut-off requests; "
            f"{recovered} cues sent more than once; outcomes {dict(outcomes)}; "
            f"{len(duplicates)} resends answered duplicate"
        )
        # a resend is answered with the first arrival's outcome, so every record says applied
        assert outcomes == {"applied": total}


async def _agent_is_back(stack: Stack, room: str, agent: RunningAgent, within_s: float) -> bool:
    """Did the agent's own Room reconnect to the restarted server (and answer RPC)?"""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if agent.room.connection_state == rtc.ConnectionState.CONN_CONNECTED:
            try:
                await wait_until_reachable(stack.livekit, agent.room, room, "agent", timeout=3)
            except (TimeoutError, asyncio.TimeoutError):
                continue
            return True
        await asyncio.sleep(0.2)
    return False


async def test_livekit_down_for_10s_mid_load_cues_are_retried_and_delivered() -> None:
    total = 300
    env = {
        **UNLIMITED,
        "LIVECUE_RETRY_BASE_S": "0.2",
        "LIVECUE_RETRY_CAP_S": "2",
        "LIVECUE_RPC_TIMEOUT_S": "3",
    }
    with running_stack(env=env) as stack:
        room = room_name("outage")
        async with live_agent(stack.livekit, room) as (_observer, agent):
            load = Load(stack, room, "outage")
            timeline: dict[str, float] = {}
            fresh: list[tuple[Observer, RunningAgent]] = []
            t0 = time.monotonic()

            async def outage() -> None:
                await until_true(lambda: len(load.ids) >= 60, timeout=30, what="60 accepted cues")
                await asyncio.to_thread(stack.livekit.stop)  # graceful: it drains first
                timeline["down"] = time.monotonic() - t0
                await asyncio.sleep(10)
                await asyncio.to_thread(stack.livekit.start)  # same ports, same keys
                timeline["up"] = time.monotonic() - t0
                if not await _agent_is_back(stack, room, agent, within_s=15):
                    # the old session did not survive: a fresh one takes over the room
                    observer = await Observer.join(stack.livekit, room)
                    fresh.append((observer, await start_agent(stack.livekit, room)))
                timeline["agent"] = time.monotonic() - t0

            try:
                await asyncio.gather(load.run(range(total), concurrency=1, pace_s=0.05), outage())
                ids = set(load.ids.values())
                assert len(ids) == total
                assert load.transport_errors == 0  # the gateway itself never went away
                states = await all_final(stack, ids, timeout=60)
                assert Counter(states.values()) == {"delivered": total}

                agents = [agent] + [a for _, a in fresh]
                for one in agents:
                    assert max(applied_counts(one).values(), default=0) <= 1
                acted = set().union(*(applied_counts(a) for a in agents))
                assert acted == ids
                acted_by = Counter(i for a in agents for i in applied_counts(a))
                overlap = sum(n > 1 for n in acted_by.values())
            finally:
                for observer, extra in fresh:
                    await extra.stop()
                    await observer.leave()

        async with store_of(stack) as store:
            histories = [await store.history(i) for i in ids]
        unreachable = sum(
            any(
                e.state == "retrying" and (e.reason or "").startswith("cannot reach LiveKit at")
                for e in events
            )
            for events in histories
        )
        assert unreachable > 0  # cues were sent while LiveKit was down, and retried
        released = Counter(
            e.reason
            for events in histories
            for e in events
            if e.state == "queued" and e.reason != "accepted"
        )
        print(
            f"timeline {timeline}; agent survived the restart: {not fresh}; "
            f"{unreachable} cues retried while LiveKit was down; "
            f"released: {dict(released)}; acted on by two agents: {overlap}"
        )
