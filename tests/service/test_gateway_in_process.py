"""The gateway's own logic, in process and fast: intake, group commit, dispatcher, receipts.

No livekit-server here: ``RoomsInMemory`` stands in for LiveKit and its agents, so that
the rules the gateway itself keeps can be tested in milliseconds, on both backends. How
real agents and a real server behave is tested in ``tests/gateway`` and ``tests/e2e``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

from harness.postgres import PostgresServer
from livecue import Credentials, Cue, CueRefused, NoAgentInRoom, Outcome, RoomNotFound
from livecue._livekit import RoomSummary
from livecue._status import StatusAnswer
from livecue.gateway.config import GatewayConfig, Settings
from livecue.gateway.runtime import Gateway
from livecue.gateway.services.intake import Origin
from livecue.sender import SendResult
from livecue.store import CueFilter, CueRecord, open_store

CREDENTIALS = Credentials("ws://127.0.0.1:1", "APIinprocess", "an-in-process-secret-of-32-bytes")


@dataclass
class RoomsInMemory:
    """Rooms with at most one agent each; the agent queues what it gets and applies it
    when told to (``finish``)."""

    agents: dict[str, str] = field(default_factory=dict)  # room -> agent identity
    outcomes: dict[str, Outcome] = field(default_factory=dict)
    delivered: list[tuple[str, str]] = field(default_factory=list)  # (room, cue id)
    refusing: dict[str, str] = field(default_factory=dict)
    """room -> why its agent refuses every cue and status call (another signing key)."""

    async def deliver(
        self,
        room: str,
        cue: Cue,
        *,
        transport: Literal["data", "rpc"] | None = None,
        agent_name: str | None = None,
        max_attempts: int | None = None,
    ) -> SendResult:
        chosen = transport or "rpc"
        if room not in self.agents:
            return SendResult(room, cue.id, chosen, 1, error=NoAgentInRoom(room))
        self.delivered.append((room, cue.id))
        if room in self.refusing:  # a data packet: sent, and dropped by the agent
            return SendResult(room, cue.id, chosen, 1, identity=self.agents[room])
        outcome = self.outcomes.setdefault(cue.id, Outcome(cue_id=cue.id, status="queued"))
        return SendResult(room, cue.id, chosen, 1, outcome=outcome, identity=self.agents[room])

    def finish(self, cue_id: str) -> None:
        self.outcomes[cue_id] = Outcome(cue_id=cue_id, status="applied", said="done")

    async def status(
        self, room: str, identity: str, known: Mapping[str, str], *, wait_s: float = 0.0
    ) -> StatusAnswer:
        if self.agents.get(room) != identity:
            raise RoomNotFound(room)
        if room in self.refusing:
            raise CueRefused(self.refusing[room], room=room)
        changed = tuple(
            o for i, s in known.items() if (o := self.outcomes.get(i)) and o.status != s
        )
        unknown = tuple(i for i in known if i not in self.outcomes)
        if not changed and not unknown:
            await asyncio.sleep(min(wait_s, 0.05))
        return StatusAnswer(changed, unknown)

    async def is_present(self, room: str, identity: str) -> bool:
        return self.agents.get(room) == identity

    async def presence(self, room: str, agent_name: str | None = None) -> str:
        return "agent" if room in self.agents else "no_room"

    async def resolve_rooms(
        self, *, rooms: Sequence[str] | None = None, room_prefix: str | None = None
    ) -> list[str]:
        return sorted(r for r in self.agents if room_prefix is None or r.startswith(room_prefix))

    async def rooms(self) -> list[RoomSummary]:
        return [RoomSummary(r, 1, (a,)) for r, a in self.agents.items()]

    async def aclose(self) -> None:
        pass


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "gateway.db")
    postgres: PostgresServer = request.getfixturevalue("postgres")
    return postgres.database()


@pytest.fixture
async def world() -> RoomsInMemory:
    return RoomsInMemory()


@pytest.fixture
async def gateway(db: str, world: RoomsInMemory) -> AsyncIterator[Gateway]:
    settings = Settings(db=db, rate_per_room=1e6, rate_per_key=1e6, held_check_s=0.2)
    gw = Gateway(settings, GatewayConfig(), CREDENTIALS, store=open_store(db), sender=world)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


async def eventually(check: object, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():  # type: ignore[operator]
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def new(text: str) -> Cue:
    from livecue import new_cue

    return new_cue("say", text)


async def test_concurrent_requests_share_transactions(
    gateway: Gateway, world: RoomsInMemory
) -> None:
    world.agents["room-1"] = "agent-1"
    store = gateway.store
    commits, writes = store.commits, store.writes  # type: ignore[attr-defined]
    results = await asyncio.gather(
        *(gateway.intake.accept("room-1", new(f"n{i}")) for i in range(200))
    )
    assert all(created for _, created in results)
    stored = await store.list_cues(CueFilter(room="room-1"), limit=1000)
    assert len(stored) == 200  # every 202 is committed
    used = store.commits - commits  # type: ignore[attr-defined]
    carried = store.writes - writes  # type: ignore[attr-defined]
    assert carried >= 200 and used < carried  # several writes per transaction (group commit)
    print(f"{carried} writes (200 new cues, the dispatcher's steps) in {used} transactions")


async def test_the_same_key_in_one_batch_is_one_cue(gateway: Gateway) -> None:
    origin = Origin(key_id="k", idempotency_key="order-9", request_hash="h")
    results = await asyncio.gather(
        *(gateway.intake.accept("room-1", new("same"), origin=origin) for _ in range(20))
    )
    assert len({r.id for r, _ in results}) == 1
    assert sum(created for _, created in results) == 1


async def test_a_cue_goes_from_held_to_the_agent_to_final(
    gateway: Gateway, world: RoomsInMemory
) -> None:
    record, _ = await gateway.intake.accept("room-2", new("wait for me"))

    async def state(expected: str) -> bool:
        current = await gateway.store.get_cue(record.id)
        return current is not None and current.state == expected

    await eventually(lambda: state("held"))
    world.agents["room-2"] = "agent-2"  # an agent joins; the periodic check finds it
    await eventually(lambda: state("at_agent"))
    world.finish(record.id)
    await eventually(lambda: state("delivered"))
    final = await gateway.store.get_cue(record.id)
    assert final is not None and final.outcome == "applied" and final.receipt is not None
    assert '"said":"done"' in final.receipt


async def test_cues_of_an_agent_that_leaves_go_to_the_next(
    gateway: Gateway, world: RoomsInMemory
) -> None:
    world.agents["room-3"] = "agent-a"
    record, _ = await gateway.intake.accept("room-3", new("hand me on"))

    async def at(agent: str) -> bool:
        current = await gateway.store.get_cue(record.id)
        return current is not None and current.agent_identity == agent

    await eventually(lambda: at("agent-a"))
    world.outcomes.pop(record.id)  # agent-a goes, and its memory with it
    world.agents["room-3"] = "agent-b"
    await gateway.livekit_events.apply(_left("room-3", "agent-a"))
    await eventually(lambda: at("agent-b"))
    assert [c for r, c in world.delivered if r == "room-3"] == [record.id, record.id]
    history = await gateway.store.history(record.id)
    assert any("'agent-a' left before acting on it" in (e.reason or "") for e in history)


async def test_only_the_agent_that_has_a_cue_may_report_on_it(
    gateway: Gateway, world: RoomsInMemory
) -> None:
    from livecue import Conflict

    world.agents["room-5"] = "agent-5"
    record, _ = await gateway.intake.accept("room-5", new("mine"))

    async def at_agent() -> bool:
        current = await gateway.store.get_cue(record.id)
        return current is not None and current.state == "at_agent"

    await eventually(at_agent)
    forged = Outcome(cue_id=record.id, status="applied", said="FORGED")
    with pytest.raises(Conflict, match="must name that agent"):
        await gateway.receipts.report(record.id, forged, agent=None)
    with pytest.raises(Conflict, match="not 'agent-6'"):
        await gateway.receipts.report(record.id, forged, agent="agent-6")
    current = await gateway.store.get_cue(record.id)
    assert current is not None and (current.state, current.outcome) == ("at_agent", "queued")

    said = Outcome(cue_id=record.id, status="applied", said="mine, said")
    await gateway.receipts.report(record.id, said, agent="agent-5")
    final = await gateway.store.get_cue(record.id)
    assert final is not None and (final.state, final.outcome) == ("delivered", "applied")


async def test_an_agent_that_refuses_to_be_asked_ends_its_unanswered_cues_rejected(
    gateway: Gateway, world: RoomsInMemory
) -> None:
    world.agents["room-6"] = "agent-6"
    world.refusing["room-6"] = "signed with key 'APIa'; this agent verifies with key 'APIb'"
    record, _ = await gateway.intake.accept("room-6", new("you cannot read me"))

    async def final() -> bool:
        current = await gateway.store.get_cue(record.id)
        return current is not None and current.final

    await eventually(final, timeout=15)  # after the grace for a packet on its way (3 s)
    current = await gateway.store.get_cue(record.id)
    assert current is not None and (current.state, current.outcome) == ("failed", "rejected")
    assert current.reason == (
        "the agent refused the gateway's status call: signed with key 'APIa'; "
        "this agent verifies with key 'APIb'"
    )


async def test_listing_sees_what_was_accepted(gateway: Gateway) -> None:
    await gateway.intake.accept("room-4", new("a"), origin=Origin(source="hook:crm"))
    await gateway.intake.accept("room-4", new("b"))
    hooked: list[CueRecord] = await gateway.store.list_cues(CueFilter(hook="crm"))
    assert [r.source for r in hooked] == ["hook:crm"]


def _left(room: str, identity: str) -> object:
    from livekit import api

    event = api.WebhookEvent(event="participant_left")
    event.room.name = room
    event.participant.identity = identity
    return event


CALLBACK_SECRET = "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWY="  # 32 bytes


@pytest.mark.parametrize(
    ("settings", "hook_url", "problem"),
    [
        ({"callback_allow": "https://cb.example.com/"}, None, "LIVECUE_CALLBACK_SECRET is not"),
        (
            {"callback_allow": "https://cb.example.com/", "callback_secret": "whsec_c2hvcnQ="},
            None,
            "at least 24 random bytes",
        ),
        (
            {"callback_allow": "https://cb.example.com/", "callback_secret": CALLBACK_SECRET},
            "https://internal.example.com/",
            "hooks.pay.callback_url: 'https://internal.example.com/' is not on",
        ),
        ({}, "https://cb.example.com/", "hooks.pay.callback_url: callbacks are off"),
        ({"callback_allow": "cb.example.com"}, None, "LIVECUE_CALLBACK_ALLOW"),
        ({"callback_retry_s": "5,later"}, None, "LIVECUE_CALLBACK_RETRY_S"),
    ],
)
def test_callback_settings_are_checked_when_the_gateway_is_built(
    tmp_path: Path, settings: dict[str, str], hook_url: str | None, problem: str
) -> None:
    from livecue import ConfigError

    hook = {
        "verify": {"scheme": "bearer", "secrets": ["a-long-enough-token"]},
        "room": "r",
        "cue": {"text": "x"},
        "callback_url": hook_url,
    }
    config = GatewayConfig.model_validate({"hooks": {"pay": hook}})
    with pytest.raises(ConfigError) as error:
        Gateway(Settings(db=str(tmp_path / "g.db"), **settings), config, CREDENTIALS)
    assert problem in str(error.value)


async def test_a_hooks_cues_carry_its_callback_url(db: str, world: RoomsInMemory) -> None:
    import json

    hook = {
        "verify": {"scheme": "bearer", "secrets": ["a-long-enough-token"]},
        "room": "{{ payload.room }}",
        "cue": {"text": "paid"},
        "callback_url": "https://cb.example.com/pay",
    }
    settings = Settings(
        db=db, callback_allow="https://cb.example.com/", callback_secret=CALLBACK_SECRET
    )
    config = GatewayConfig.model_validate({"hooks": {"pay": hook}})
    gw = Gateway(settings, config, CREDENTIALS, store=open_store(db), sender=world)
    await gw.start()
    try:
        body = json.dumps({"room": "room-cb"}).encode()
        result = await gw.hooks.handle("pay", body, {"authorization": "Bearer a-long-enough-token"})
        assert result.record is not None
        assert result.record.callback_url == "https://cb.example.com/pay"
        [logged] = await gw.store.hook_log("pay")
        assert (logged.result, logged.cue_id) == ("accepted", result.record.id)
    finally:
        await gw.stop()
