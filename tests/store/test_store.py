"""The store, in process, on both backends: a real SQLite file and a real PostgreSQL.

No livekit-server: these are the rules of a cue's life as the database keeps them —
idempotency, claims, compare-and-set on outcomes, take-overs, ticks fired once.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from harness.postgres import PostgresServer
from livecue.store import CueFilter, NewCue, SharedLimits, Store, open_store
from livecue.store.postgres import PostgresStore

NOW = 1_900_000_000.0


def cue(n: int | str, **fields: object) -> NewCue:
    base: dict[str, object] = {
        "id": f"cue-{n}",
        "room": "room-1",
        "transport": "rpc",
        "payload": "{}",
        "expires_at": NOW + 60,
    }
    return NewCue(**{**base, **fields})  # type: ignore[arg-type]


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return postgres.database()


@pytest.fixture
async def opened(db: str) -> AsyncIterator[Callable[[], Store]]:
    """Open as many stores on the database as a test wants (several instances)."""
    stores: list[Store] = []

    def make() -> Store:
        store = open_store(db)
        stores.append(store)
        return store

    try:
        yield make
    finally:
        for store in stores:
            await store.aclose()


@pytest.fixture
async def store(opened: Callable[[], Store]) -> Store:
    s = opened()
    await s.migrate()
    return s


async def test_migrating_twice_does_nothing_the_second_time(opened: Callable[[], Store]) -> None:
    store = opened()
    first = await store.migrate()
    assert first and first == list(range(first[0], first[-1] + 1))
    assert await store.migrate() == []
    version, newest = await store.schema_version()
    assert version == newest


async def test_idempotency_key_hook_delivery_and_id_each_give_one_cue(store: Store) -> None:
    first, created = await store.insert_cue(cue(1, key_id="k", idempotency_key="order-1"), now=NOW)
    again, repeat = await store.insert_cue(cue(2, key_id="k", idempotency_key="order-1"), now=NOW)
    assert created and not repeat and again.id == first.id
    another = cue(3, key_id="k2", idempotency_key="order-1")
    other_key, made = await store.insert_cue(another, now=NOW)
    assert made and other_key.id == "cue-3"  # another API key: another cue

    hooked, made = await store.insert_cue(cue(4), now=NOW, hook_delivery=("stripe", "evt_1"))
    replay, again_made = await store.insert_cue(cue(5), now=NOW, hook_delivery=("stripe", "evt_1"))
    assert made and not again_made and replay.id == hooked.id
    assert await store.hook_delivery("stripe", "evt_1") == "cue-4"

    same_id, made = await store.insert_cue(cue(1), now=NOW)
    assert not made and same_id.id == "cue-1"


async def test_a_batch_commits_together_and_finds_repeats_inside_itself(store: Store) -> None:
    results = await store.insert_checked(
        [
            (cue(1, key_id="k", idempotency_key="x"), None),
            (cue(2, key_id="k", idempotency_key="x"), None),  # the same request twice
            (cue(3), ("h", "d-1")),
            (cue(4), ("h", "d-1")),
        ],
        now=NOW,
    )
    assert [(r.id, created) for r, created in results] == [
        ("cue-1", True),
        ("cue-1", False),
        ("cue-3", True),
        ("cue-3", False),
    ]


async def test_concurrent_claims_never_take_the_same_cue(opened: Callable[[], Store]) -> None:
    stores = [opened() for _ in range(3)]
    await stores[0].migrate()
    await stores[0].insert_checked([(cue(n), None) for n in range(300)], now=NOW)
    for i, s in enumerate(stores):
        await s.heartbeat(f"i{i}", host="h", pid=i, now=NOW, ttl=10)

    async def drain(s: Store, owner: str) -> list[str]:
        taken: list[str] = []
        while batch := await s.claim_due(now=NOW, limit=7, owner=owner):
            taken += [r.id for r in batch]
            await asyncio.sleep(0)
        return taken

    claims = await asyncio.gather(*(drain(s, f"i{i}") for i, s in enumerate(stores)))
    every = [c for claim in claims for c in claim]
    assert len(every) == len(set(every)) == 300


async def test_outcomes_never_go_backwards_or_replace_a_final_one(store: Store) -> None:
    await store.insert_cue(cue(1), now=NOW)
    await store.claim_due(now=NOW, limit=1, owner="i")
    record, move = await store.record_outcome("cue-1", "queued", now=NOW, identity="agent-a")
    assert record is not None and move is not None and record.state == "at_agent"
    record, move = await store.record_outcome("cue-1", "started", now=NOW + 1)
    assert move is not None and record is not None and record.outcome == "started"
    _, late = await store.record_outcome("cue-1", "queued", now=NOW + 2)
    assert late is None  # older news
    final, move = await store.record_outcome(
        "cue-1", "applied", now=NOW + 3, receipt='{"said":"hi"}'
    )
    assert final is not None and (final.state, final.outcome) == ("delivered", "applied")
    after, none = await store.record_outcome("cue-1", "interrupted", now=NOW + 4)
    assert none is None and after is not None and after.outcome == "applied"
    assert after.receipt == '{"said":"hi"}'
    history = [(e.state, e.outcome) for e in await store.history("cue-1")]
    assert history == [
        ("queued", None),
        ("sending", None),
        ("at_agent", "queued"),
        ("at_agent", "started"),
        ("delivered", "applied"),
    ]
    assert await store.record_outcome("nope", "applied", now=NOW) == (None, None)


async def test_two_outcomes_at_once_keep_exactly_one_final(opened: Callable[[], Store]) -> None:
    a, b = opened(), opened()
    await a.migrate()
    await a.insert_cue(cue(1), now=NOW)
    await a.claim_due(now=NOW, limit=1, owner="i")
    results = await asyncio.gather(
        a.record_outcome("cue-1", "applied", now=NOW, identity="x"),
        b.record_outcome("cue-1", "expired", now=NOW, identity="x"),
    )
    moves = [move for _, move in results if move is not None]
    assert len(moves) == 1
    final = await a.get_cue("cue-1")
    assert final is not None and final.outcome == moves[0].outcome


async def test_an_agent_leaving_hands_its_unfinished_cues_on(store: Store) -> None:
    lives = {0: 60, 1: 60, 2: 1}
    await store.insert_checked([(cue(n, expires_at=NOW + lives[n]), None) for n in lives], now=NOW)
    await store.claim_due(now=NOW, limit=3, owner="i")
    await store.record_outcome("cue-0", "queued", now=NOW, identity="agent-a")
    await store.record_outcome("cue-1", "started", now=NOW, identity="agent-a")
    await store.record_outcome("cue-2", "queued", now=NOW, identity="agent-a")
    moved = dict(await store.agent_left("room-1", "agent-a", now=NOW + 5))
    assert (moved["cue-0"].state, moved["cue-1"].state, moved["cue-2"].state) == (
        "queued",  # not acted on: to the next agent
        "delivered",  # acted on: never again
        "expired",  # its time was up
    )
    again = await store.get_cue("cue-0")
    assert again is not None and again.agent_identity is None and again.state == "queued"
    assert [r.id for r in await store.claim_due(now=NOW + 5, limit=5, owner="i")] == ["cue-0"]


async def test_a_dead_instances_sends_are_taken_over_a_live_ones_are_not(store: Store) -> None:
    await store.insert_checked([(cue(1), None), (cue(2), None)], now=NOW)
    await store.heartbeat("alive", host="h", pid=1, now=NOW, ttl=10)
    await store.heartbeat("dying", host="h", pid=2, now=NOW, ttl=10)
    await store.claim_due(now=NOW, limit=1, owner="alive")
    await store.claim_due(now=NOW, limit=1, owner="dying")
    await store.heartbeat("alive", host="h", pid=1, now=NOW + 9, ttl=10)
    assert await store.recover(now=NOW + 5) == []  # both still within their lease
    assert await store.recover(now=NOW + 12) == ["cue-2"]  # dying's lease ran out
    assert await store.live_instances(now=NOW + 12) == ["alive"]
    kept = await store.get_cue("cue-1")
    assert kept is not None and (kept.state, kept.owner) == ("sending", "alive")
    # sent again by the live instance, the dying one's late move is refused
    [retaken] = await store.claim_due(now=NOW + 12, limit=1, owner="alive")
    assert retaken.id == "cue-2"
    late = await store.set_state("cue-2", "failed", from_state="sending", now=NOW, owner="dying")
    assert not late
    assert await store.set_state("cue-2", "held", from_state="sending", now=NOW, owner="alive")


async def test_a_hook_delivery_racing_in_on_every_instance_makes_one_cue(
    opened: Callable[[], Store],
) -> None:
    stores = [opened() for _ in range(3)]
    await stores[0].migrate()
    for round_ in range(10):
        delivery = ("pay", f"evt_{round_}")
        results = await asyncio.gather(
            *(
                s.insert_checked([(cue(f"{round_}-{i}"), delivery)], now=NOW)
                for i, s in enumerate(stores)
            )
        )
        made = [record.id for [(record, created)] in results if created]
        assert len(made) == 1, f"round {round_}: {made}"
        assert {record.id for [(record, _)] in results} == set(made)  # all name the one
    assert len(await stores[0].list_cues(CueFilter(room="room-1"), limit=100)) == 10


async def test_a_tick_fires_once_whoever_asks(opened: Callable[[], Store]) -> None:
    stores = [opened() for _ in range(3)]
    await stores[0].migrate()
    assert await stores[0].last_fired("daily") is None
    results = await asyncio.gather(
        *(
            s.fire_tick("daily", "2027-10-31T02:30:00", at=NOW + i, cues=[cue(f"t{i}")], now=NOW)
            for i, s in enumerate(stores)
        )
    )
    fired = [r for r in results if r is not None]
    assert len(fired) == 1 and len(fired[0]) == 1
    assert len(await stores[0].list_cues(CueFilter(room="room-1"))) == 1
    # the same wall-clock time an hour later (the clocks went back): still fired once
    repeat = await stores[1].fire_tick(
        "daily", "2027-10-31T02:30:00", at=NOW + 3600, cues=[], now=NOW
    )
    assert repeat is None
    assert await stores[0].last_tick("daily") is not None
    assert await stores[2].last_fired("daily") in {NOW, NOW + 1, NOW + 2}


async def test_listing_filters_and_pages_newest_first(store: Store) -> None:
    rooms = [(cue(n, room="a" if n % 2 else "b"), None) for n in range(10)]
    await store.insert_checked(rooms, now=NOW)
    for n in range(10, 15):
        await store.insert_cue(cue(n, source="hook:donations"), now=NOW + n)
    page = await store.list_cues(CueFilter(), limit=4)
    assert [r.id for r in page][:4] == ["cue-14", "cue-13", "cue-12", "cue-11"]
    rest = await store.list_cues(CueFilter(before=(page[-1].created_at, page[-1].id)), limit=100)
    assert len(page) + len(rest) == 15 and not {r.id for r in page} & {r.id for r in rest}
    assert {r.id for r in await store.list_cues(CueFilter(hook="donations"))} == {
        f"cue-{n}" for n in range(10, 15)
    }
    assert len(await store.list_cues(CueFilter(source="hook"))) == 5
    assert len(await store.list_cues(CueFilter(source="api"))) == 10
    assert {r.room for r in await store.list_cues(CueFilter(room="a"))} == {"a"}


async def test_keys_can_be_revoked(store: Store) -> None:
    await store.add_key("k1", "hash", ["send"], name="crm", now=NOW)
    key = await store.get_key("k1")
    assert key is not None and key.scopes == {"send"} and key.revoked_at is None
    assert await store.revoke_key("k1", now=NOW + 1)
    assert not await store.revoke_key("k1", now=NOW + 2)
    assert await store.get_key("k1") is None
    [listed] = await store.list_keys()
    assert listed.revoked_at == NOW + 1


async def test_work_stored_by_one_instance_wakes_the_others(opened: Callable[[], Store]) -> None:
    a, b = opened(), opened()
    await a.migrate()
    woken = asyncio.Event()
    b.listen(woken.set)
    await b.attach_instance("b", host="h", pid=1, now=time.time(), ttl=10)
    await asyncio.sleep(0.3)  # b's listener is connected (SQLite: in-process only)
    woken.clear()
    await a.insert_cue(cue(1), now=NOW)
    if a.shared:
        await asyncio.wait_for(woken.wait(), 5)  # LISTEN/NOTIFY across connections
    else:
        assert not woken.is_set()  # SQLite serves one instance: no one else to wake


async def test_shared_token_buckets_never_give_more_than_the_limit(
    postgres: PostgresServer,
) -> None:
    """PostgreSQL only: with SQLite one instance serves, and its limits live in memory."""
    url = postgres.database()
    stores = [PostgresStore(url) for _ in range(3)]
    await stores[0].migrate()
    assert all(isinstance(s, SharedLimits) for s in stores)
    granted = await asyncio.gather(
        *(
            s.take_tokens("key:k", rate=10, burst=20, want=3, now=NOW)
            for s in stores
            for _ in range(10)
        )
    )
    assert sum(granted) == 20  # the burst, and not a token more, across instances
    later = await stores[1].take_tokens("key:k", rate=10, burst=20, want=100, now=NOW + 1)
    assert later == pytest.approx(10)  # a second's refill
    # a request whose clock was read earlier, served later: time does not run back
    late = await stores[2].take_tokens("key:k", rate=10, burst=20, want=100, now=NOW + 0.5)
    again = await stores[0].take_tokens("key:k", rate=10, burst=20, want=100, now=NOW + 1)
    assert late == 0 and again == 0  # that second was refilled once, not twice
    for s in stores:
        await s.aclose()


async def test_only_a_cue_no_agent_has_can_be_cancelled_and_that_is_recorded(
    store: Store,
) -> None:
    await store.insert_checked([(cue(n), None) for n in range(3)], now=NOW)
    await store.claim_due(now=NOW, limit=1, owner="i")  # cue-0 is being sent
    await store.set_state("cue-1", "held", from_state="queued", now=NOW, reason="no agent")
    sending, refused = await store.cancel("cue-0", now=NOW + 1, by="key k1")
    assert not refused and sending is not None and sending.state == "sending"
    held, done = await store.cancel("cue-1", now=NOW + 1, by="key k1")
    assert (
        done
        and held is not None
        and (held.state, held.reason)
        == (
            "cancelled",
            "cancelled by key k1",
        )
    )
    again, twice = await store.cancel("cue-1", now=NOW + 2, by="key k2")
    assert not twice and again is not None and again.reason == "cancelled by key k1"
    assert await store.cancel("nope", now=NOW, by="x") == (None, False)
    # a cancelled cue is never claimed, and its history says who and when
    assert [r.id for r in await store.claim_due(now=NOW + 5, limit=5, owner="i")] == ["cue-2"]
    last = (await store.history("cue-1"))[-1]
    assert (last.state, last.at, last.reason) == ("cancelled", NOW + 1, "cancelled by key k1")


async def test_a_data_cue_an_agent_fetched_on_joining_can_no_longer_be_cancelled(
    store: Store,
) -> None:
    items = [(cue(n, transport="data"), None) for n in range(2)]
    items.append((cue("other-room", transport="data", room="room-2"), None))
    await store.insert_checked(items, now=NOW)
    for n in range(2):
        await store.set_state(f"cue-{n}", "held", from_state="queued", now=NOW, reason="no agent")
    _, done = await store.cancel("cue-1", now=NOW + 1, by="key k1")
    assert done

    fetched = await store.pending_for_room("room-1", now=NOW + 2)

    assert [(r.id, r.fetched_at) for r in fetched] == [("cue-0", NOW + 2)]
    record, cancelled = await store.cancel("cue-0", now=NOW + 3, by="key k1")
    assert not cancelled and record is not None and record.state == "held"
    other, cancelled_other = await store.cancel("cue-other-room", now=NOW + 3, by="key k1")
    assert cancelled_other and other is not None and other.fetched_at is None


async def test_a_final_cue_with_a_callback_url_gets_one_callback_retried_until_done(
    store: Store,
) -> None:
    from livecue.store import CallbackAttempt

    url = "https://example.test/cb"
    await store.insert_checked([(cue(1, callback_url=url), None), (cue(2), None)], now=NOW)
    assert await store.next_callback_at() is None
    await store.claim_due(now=NOW, limit=2, owner="i")
    await store.record_outcome("cue-1", "applied", now=NOW + 1, identity="a", receipt="{}")
    await store.record_outcome("cue-2", "applied", now=NOW + 1, identity="a", receipt="{}")
    await store.record_outcome("cue-1", "interrupted", now=NOW + 2)  # refused: final already
    assert await store.next_callback_at() == NOW + 1
    [claimed] = await store.claim_callbacks(now=NOW + 1, limit=10, owner="i")
    assert (claimed.cue_id, claimed.url, claimed.event, claimed.attempts) == (
        "cue-1",
        url,
        "cue.applied",
        1,
    )
    assert await store.claim_callbacks(now=NOW + 1, limit=10, owner="other") == []
    failed = CallbackAttempt(at=NOW + 1, status=500, duration_ms=12.5, error=None)
    await store.callback_sent(
        claimed.id, failed, state="pending", next_attempt_at=NOW + 6, now=NOW + 1
    )
    assert await store.claim_callbacks(now=NOW + 5, limit=10, owner="i") == []
    [second] = await store.claim_callbacks(now=NOW + 6, limit=10, owner="i")
    assert second.id == claimed.id and second.attempts == 2  # same webhook-id each time
    ok = CallbackAttempt(at=NOW + 6, status=204, duration_ms=3.0, error=None)
    await store.callback_sent(second.id, ok, state="delivered", next_attempt_at=NOW + 6, now=NOW)
    [record] = await store.callbacks_of("cue-1")
    assert record.state == "delivered" and [a.status for a in record.history] == [500, 204]
    assert await store.callbacks_of("cue-2") == [] and await store.next_callback_at() is None


async def test_a_callback_an_instance_died_sending_is_taken_over(store: Store) -> None:
    await store.insert_cue(cue(1, callback_url="https://example.test/cb"), now=NOW)
    await store.cancel("cue-1", now=NOW, by="operator")
    await store.heartbeat("dying", host="h", pid=2, now=NOW, ttl=10)
    [claimed] = await store.claim_callbacks(now=NOW, limit=1, owner="dying")
    assert claimed.event == "cue.cancelled"
    await store.recover(now=NOW + 5)
    assert await store.claim_callbacks(now=NOW + 5, limit=1, owner="b") == []  # lease holds
    await store.recover(now=NOW + 11)
    [taken] = await store.claim_callbacks(now=NOW + 11, limit=1, owner="b")
    assert taken.id == claimed.id and taken.attempts == 2
    # the attempt cut off is in the record, as every attempt is
    [record] = await store.callbacks_of("cue-1")
    [cut_off] = record.history
    assert (cut_off.at, cut_off.status) == (NOW, None)
    assert cut_off.error is not None and cut_off.error.startswith("cut off")


async def test_hook_log_keeps_every_verdict_newest_first(store: Store) -> None:
    results = ["accepted", "replay", "bad_signature", "stale", "filtered", "template_error"]
    for n, result in enumerate(results):
        await store.log_hook("pay", result, now=NOW + n, reason=f"r{n}", body="{}")  # type: ignore[arg-type]
    await store.log_hook("other", "accepted", now=NOW)
    page = await store.hook_log("pay", limit=4)
    assert [e.result for e in page] == ["template_error", "filtered", "stale", "bad_signature"]
    rest = await store.hook_log("pay", before=page[-1].seq)
    assert [e.result for e in rest] == ["replay", "accepted"]
    await store.purge_finished(before=NOW + 3)
    assert len(await store.hook_log("pay")) == 3


async def test_changes_and_counts_for_the_console(store: Store) -> None:
    await store.insert_checked([(cue(n), None) for n in range(3)], now=NOW)
    await store.claim_due(now=NOW + 1, limit=1, owner="i")
    await store.record_outcome("cue-0", "applied", now=NOW + 2, identity="a")
    changed = await store.cues_changed(after=NOW + 0.5)
    assert [r.id for r in changed] == ["cue-0"]
    counts = {(s, o): n for s, o, n in await store.outcome_counts(since=NOW - 1)}
    assert counts == {("delivered", "applied"): 1, ("queued", None): 2}
    assert await store.delivery_times(since=NOW - 1) == [(NOW, NOW + 2)]


async def test_postgres_refuses_a_nul_by_name_rather_than_failing(
    postgres: PostgresServer,
) -> None:
    from livecue._errors import InvalidRequest

    store = open_store(postgres.database())
    try:
        await store.migrate()
        with pytest.raises(InvalidRequest, match="id: must not contain NUL characters"):
            await store.get_cue("cue\x00")
        with pytest.raises(InvalidRequest, match="hook: must not contain NUL characters"):
            await store.hook_log("pay\x00")
        # one bad write in a group commit fails alone
        results = await asyncio.gather(
            store.insert_cue(cue("bad", room="room\x00"), now=NOW),
            store.insert_cue(cue("good"), now=NOW),
            return_exceptions=True,
        )
        assert isinstance(results[0], InvalidRequest) and "room" in str(results[0])
        assert await store.get_cue("cue-good") is not None
    finally:
        await store.aclose()


async def test_postgres_replaces_connections_the_server_ended_while_idle(
    postgres: PostgresServer,
) -> None:
    import psycopg

    url = postgres.database()
    store = open_store(url)
    try:
        await store.migrate()
        await store.insert_cue(cue("before"), now=NOW)
        # what a failover, a pooler's restart or an idle timeout does to pooled connections
        with psycopg.connect(url, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()
        assert ended is not None and ended[0] >= 1

        # PostgreSQL is up: no request may fail for a connection that died in the pool
        results = await asyncio.gather(*(store.get_cue("cue-before") for _ in range(8)))
        assert all(r is not None for r in results)
        await store.insert_cue(cue("after"), now=NOW)
    finally:
        await store.aclose()
