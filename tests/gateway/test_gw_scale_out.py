"""Several gateway instances on one PostgreSQL: no cue lost or sent twice when one dies.

Real processes: a livekit-server, three ``livecue serve`` on one database of a real
PostgreSQL cluster started by the test session, and a real AgentSession counting what it
acts on. The client spreads its requests over the instances, as a load balancer would,
and moves on to another instance when one does not answer.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from gwkit import applied_counts, live_agent, room_name, until, until_true

from harness.gateway import GatewayProcess
from harness.livekit_server import LiveKitServer, free_port
from harness.postgres import PostgresServer
from livecue.store import CueFilter, CueRecord, open_store

pytestmark = [pytest.mark.e2e, pytest.mark.faults]

UNLIMITED = {"LIVECUE_RATE_PER_ROOM": "1000000", "LIVECUE_RATE_PER_KEY": "1000000"}


@dataclass
class Cluster:
    livekit: LiveKitServer
    db: str
    gateways: list[GatewayProcess]
    admin_key: str = ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    async def records(self, where: CueFilter | None = None) -> list[CueRecord]:
        store = open_store(self.db)
        try:
            return await store.list_cues(where or CueFilter(), limit=1_000_000)
        finally:
            await store.aclose()

    def close(self) -> None:
        for gateway in self.gateways:
            gateway.close()
        self.livekit.stop()


def cluster(
    postgres: PostgresServer,
    count: int,
    *,
    env: dict[str, str] | None = None,
    config: Path | None = None,
    start: bool = True,
    with_key: bool = True,
) -> Cluster:
    """``count`` gateways on one fresh database; LiveKit's webhooks go to the first (as a
    load balancer would pick one), and the first one's key works on all."""
    db = postgres.database()
    ports = [free_port() for _ in range(count)]
    livekit = LiveKitServer(webhook_urls=[f"http://127.0.0.1:{ports[0]}/livekit/webhook"])
    gateways = [
        GatewayProcess(
            livekit,
            port=port,
            db=db,
            env_extra=dict(env or {}),
            config=str(config) if config else None,
        )
        for port in ports
    ]
    group = Cluster(livekit, db, gateways)
    try:
        livekit.start()
        if with_key:
            group.admin_key = gateways[0].create_key("admin")
        if start:
            for gateway in gateways:
                gateway.start()
    except BaseException:
        group.close()
        raise
    return group


@pytest.fixture
def three(postgres: PostgresServer) -> Iterator[Cluster]:
    group = cluster(postgres, 3, env=UNLIMITED)
    try:
        yield group
    finally:
        group.close()


@dataclass
class SpreadLoad:
    """Cue ``i`` goes to instance ``i % n`` with ``Idempotency-Key: {tag}-{i}``; on a refused
    connection or a 503 it moves to the next instance, with the same key, until a 202."""

    cluster: Cluster
    room: str
    tag: str
    ids: dict[int, str] = field(default_factory=dict)
    accepted_by: Counter[int] = field(default_factory=Counter)
    failovers: int = 0
    unavailable: int = 0

    async def post(self, client: httpx.AsyncClient, i: int) -> None:
        urls = [g.url for g in self.cluster.gateways]
        body = {"kind": "context", "text": f"{self.tag} note {i}", "ttl_s": 600}
        deadline = time.monotonic() + 90
        for attempt in itertools.count():
            assert time.monotonic() < deadline, f"cue {i} was never accepted"
            n = (i + attempt) % len(urls)
            try:
                r = await client.post(
                    f"{urls[n]}/v1/rooms/{self.room}/cues",
                    json=body,
                    headers={**self.cluster.headers(), "Idempotency-Key": f"{self.tag}-{i}"},
                )
            except httpx.TransportError:
                self.failovers += 1
                await asyncio.sleep(0.05)
                continue
            if r.status_code == 503:  # the database is down: another try, same key
                self.unavailable += 1
                await asyncio.sleep(0.2)
                continue
            assert r.status_code == 202, f"cue {i}: {r.status_code} {r.text}"
            self.ids[i] = r.json()["id"]
            self.accepted_by[n] += 1
            return

    async def run(self, total: int, concurrency: int) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(total):
            queue.put_nowait(i)
        async with httpx.AsyncClient(timeout=15) as client:

            async def worker() -> None:
                while not queue.empty():
                    await self.post(client, queue.get_nowait())

            await asyncio.gather(*(worker() for _ in range(concurrency)))


async def all_final(group: Cluster, ids: set[str], timeout: float) -> list[CueRecord]:
    async def check() -> list[CueRecord] | None:
        records = [r for r in await group.records() if r.id in ids]
        return records if len(records) == len(ids) and all(r.final for r in records) else None

    try:
        return await until(check, timeout=timeout, interval=1.0, what="every cue to be final")
    except AssertionError:
        counts = Counter(r.state for r in await group.records())
        raise AssertionError(f"not every cue is final: {dict(counts)}") from None


async def test_three_instances_one_killed_mid_load_lose_none_and_repeat_none(
    three: Cluster,
) -> None:
    total = 3000
    room = room_name("scale")
    async with live_agent(three.livekit, room) as (_observer, agent):
        load = SpreadLoad(three, room, "scale")
        victim = three.gateways[1]
        events: dict[str, int] = {}

        async def kill_then_restart() -> None:
            await until_true(lambda: len(load.ids) >= 1000, timeout=120, what="1000 accepted")
            victim.kill()  # SIGKILL, mid-load
            events["killed_at"] = len(load.ids)
            await until_true(lambda: len(load.ids) >= 2000, timeout=120, what="2000 accepted")
            await asyncio.to_thread(victim.start)
            events["restarted_at"] = len(load.ids)

        await asyncio.gather(load.run(total, concurrency=24), kill_then_restart())

        ids = set(load.ids.values())
        assert sorted(load.ids) == list(range(total)) and len(ids) == total
        assert load.failovers > 0  # requests really did hit the dead instance
        records = await all_final(three, ids, timeout=120)
        stored = await three.records()
        assert {r.id for r in stored} == ids  # no retried request made a second cue
        assert Counter(r.state for r in records) == {"delivered": total}

        applied = applied_counts(agent)
        assert set(applied) == ids  # every cue acted on...
        duplicates = [a for a, n in applied.items() if n > 1]
        assert duplicates == []  # ...and none twice

        store = open_store(three.db)
        try:
            histories = [await store.history(r.id) for r in records[:300]]
        finally:
            await store.aclose()
    senders = Counter(e.reason for events_ in histories for e in events_ if e.state == "sending")
    taken_over = sum(r.attempts > 1 for r in records)
    print(
        f"3 instances, {total} cues: accepted per instance {dict(load.accepted_by)}; "
        f"{load.failovers} requests failed over; killed after {events['killed_at']}, "
        f"restarted after {events['restarted_at']} accepted; {taken_over} cues sent twice "
        f"(taken over), acted on twice: {len(duplicates)}; senders of a sample: {dict(senders)}"
    )
    assert len(senders) >= 2  # whichever instance was free sent, not only the one that accepted


async def test_postgres_restarted_mid_load_loses_nothing(
    three: Cluster, postgres: PostgresServer
) -> None:
    total = 600
    room = room_name("pgdown")
    async with live_agent(three.livekit, room) as (_observer, agent):
        load = SpreadLoad(three, room, "pgdown")
        seen: dict[str, list[int]] = {}

        async def outage() -> None:
            await until_true(lambda: len(load.ids) >= 200, timeout=60, what="200 accepted")
            await asyncio.to_thread(postgres.stop_server)  # pg_ctl stop -m fast
            async with httpx.AsyncClient(timeout=5) as client:

                async def readiness() -> list[int]:
                    return [
                        (await client.get(f"{g.url}/readyz")).status_code for g in three.gateways
                    ]

                async def all_not_ready() -> bool:
                    seen["while_down"] = await readiness()
                    return seen["while_down"] == [503, 503, 503]

                await until(all_not_ready, timeout=15, what="every instance to report not ready")
                await asyncio.to_thread(postgres.start_server)  # pg_ctl start: same data

                async def all_ready() -> bool:
                    seen["after"] = await readiness()
                    return seen["after"] == [200, 200, 200]

                await until(all_ready, timeout=30, what="every instance to be ready again")

        await asyncio.gather(load.run(total, concurrency=8), outage())
        ids = set(load.ids.values())
        assert len(ids) == total
        records = await all_final(three, ids, timeout=90)
        assert Counter(r.state for r in records) == {"delivered": total}
        assert {r.id for r in await three.records()} == ids
        applied = applied_counts(agent)
        assert set(applied) == ids and max(applied.values()) == 1
    print(
        f"PostgreSQL stopped and started mid-load: /readyz while down {seen['while_down']}, "
        f"after {seen['after']}; {load.unavailable} requests answered 503 and retried; "
        f"{total} accepted, final, each acted on once"
    )


async def test_a_schedule_on_three_instances_fires_once_per_tick(
    postgres: PostgresServer, tmp_path: Path
) -> None:
    room = room_name("tick3")
    config = tmp_path / "livecue.yaml"
    config.write_text(
        "schedules:\n"
        "  ticker:\n"
        '    cron: "* * * * * *"\n'
        f"    target: {{room: {room}}}\n"
        "    cue: {kind: context, text: 'tick {{ tick }}', ttl_s: 60}\n"
    )
    group = cluster(postgres, 3, config=config)
    try:
        async with live_agent(group.livekit, room) as (_observer, agent):

            async def thirty_ticks() -> list[CueRecord] | None:
                rows = await group.records(CueFilter(source="schedule"))
                return rows if len(rows) >= 30 else None

            await until(thirty_ticks, timeout=90, what="thirty ticks")
            for gateway in group.gateways:
                await asyncio.to_thread(gateway.stop)
            rows = await group.records(CueFilter(source="schedule"))
            acted = applied_counts(agent)
    finally:
        group.close()
    ticks = [datetime.fromisoformat(json.loads(r.payload)["text"][len("tick ") :]) for r in rows]
    repeated = [t.isoformat() for t, n in Counter(ticks).items() if n > 1]
    assert repeated == []  # one cue per tick, whichever instances fired
    ordered = sorted(ticks)
    gaps = [
        (a.isoformat(), b.isoformat())
        for a, b in itertools.pairwise(ordered)
        if b - a != timedelta(seconds=1)
    ]
    assert gaps == []
    assert len(ticks) >= 30
    assert max(acted.values(), default=1) == 1
    print(f"a per-second schedule on 3 instances: {len(ticks)} ticks, each fired once")


async def test_two_instances_starting_together_on_an_empty_database_migrate_once(
    postgres: PostgresServer,
) -> None:
    group = cluster(postgres, 2, start=False, with_key=False)
    try:
        # the same moment: both processes are started before either is waited for
        for gateway in group.gateways:
            gateway.spawn()
        for gateway in group.gateways:
            await asyncio.to_thread(gateway.wait_ready)
        group.admin_key = group.gateways[0].create_key("admin")
        async with httpx.AsyncClient(timeout=10) as client:
            for gateway in group.gateways:
                ready = await client.get(f"{gateway.url}/readyz")
                assert ready.status_code == 200, ready.text
                made = await client.post(
                    f"{gateway.url}/v1/rooms/{room_name()}/cues",
                    json={"kind": "context", "text": "hello"},
                    headers=group.headers(),
                )
                assert made.status_code == 202, made.text
        migrated = [
            line
            for gateway in group.gateways
            for line in gateway.log_tail(400).splitlines()
            if '"database migrated"' in line
        ]
        store = open_store(group.db)
        try:
            version, newest = await store.schema_version()
        finally:
            await store.aclose()
    finally:
        group.close()
    assert version == newest
    assert len(migrated) == 1, migrated  # one instance migrated; the other found it done
