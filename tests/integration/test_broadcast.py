"""Broadcast: explicit rooms, a prefix, all rooms; bounded concurrency; per-room results."""

from __future__ import annotations

import asyncio

import pytest
from livekit import rtc

from livecue import (
    Credentials,
    CueRefused,
    CueSender,
    DeliveryTimeout,
    NoAgentInRoom,
    Outcome,
    RoomNotFound,
    SendResult,
    decode_cue,
    new_cue,
)

from .conftest import Participants, RpcAgent, answer_applied, room_name

pytestmark = pytest.mark.integration


async def _agents(participants: Participants, rooms: list[str]) -> dict[str, RpcAgent]:
    agents = await asyncio.gather(*(participants.rpc_agent(r) for r in rooms))
    return dict(zip(rooms, agents, strict=True))


async def test_explicit_rooms(participants: Participants, sender: CueSender) -> None:
    rooms = [room_name("bx") for _ in range(3)]
    agents = await _agents(participants, rooms)
    cue = new_cue("say", "announcement")
    seen: list[str] = []

    results = await sender.broadcast(cue, rooms=rooms, on_result=lambda r: seen.append(r.room))

    assert [r.room for r in results] == rooms  # in the order asked
    assert all(r.ok and r.outcome is not None for r in results)
    assert {r.outcome.status for r in results if r.outcome} == {"applied"}
    assert {r.cue_id for r in results} == {cue.id}
    assert sorted(seen) == sorted(rooms)
    for agent in agents.values():
        assert agent.cue_ids == [cue.id]


async def test_room_prefix_reaches_only_matching_live_rooms(
    participants: Participants, sender: CueSender
) -> None:
    prefix = room_name("bp") + "-"
    matching = sorted(prefix + n for n in ("a", "b"))
    other = room_name("bq")
    agents = await _agents(participants, [*matching, other])
    cue = new_cue("reply", "for the prefix")

    results = await sender.broadcast(cue, room_prefix=prefix)

    assert [r.room for r in results] == matching
    assert all(r.ok for r in results)
    assert agents[other].calls == []
    assert [agents[m].cue_ids for m in matching] == [[cue.id], [cue.id]]


async def test_all_live_rooms(participants: Participants, credentials: Credentials) -> None:
    ours = [room_name("ball") for _ in range(2)]
    agents = await _agents(participants, ours)
    cue = new_cue("context", "for everyone", ttl=5)

    # Other tests' rooms may still be live (empty, without agents): those fail, ours land.
    async with CueSender(credentials, max_attempts=1) as s:
        live = await s.resolve_rooms()
        results = await s.broadcast(cue)

    by_room = {r.room: r for r in results}
    assert set(ours) <= set(by_room) <= set(live)
    for room in ours:
        assert by_room[room].ok, by_room[room].error
        assert agents[room].cue_ids == [cue.id]


async def test_concurrency_bound_is_respected(
    participants: Participants, credentials: Credentials
) -> None:
    rooms = [room_name("bc") for _ in range(6)]
    in_flight = 0
    peak = 0

    async def slow(call: rtc.RpcInvocationData) -> str:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        try:
            await asyncio.sleep(0.15)
            return await answer_applied(call)
        finally:
            in_flight -= 1

    await asyncio.gather(*(participants.rpc_agent(r, respond=slow) for r in rooms))

    async with CueSender(credentials, concurrency=2) as s:
        results = await s.broadcast(new_cue("say", "two at a time"), rooms=rooms)
    bounded_peak, peak = peak, 0
    # Control: the same rooms with room to spare do overlap, so the counter can see it.
    async with CueSender(credentials, concurrency=6) as s:
        await s.broadcast(new_cue("say", "all at once"), rooms=rooms)

    assert all(r.ok for r in results)
    assert bounded_peak == 2
    assert peak > 2


async def test_failures_are_per_room_results_never_raised(
    participants: Participants, sender: CueSender
) -> None:
    with_agent, without_agent, missing = room_name("bf"), room_name("bf"), room_name("bf")
    agent = await participants.rpc_agent(with_agent)
    await participants.join(without_agent, "only-a-user")
    cue = new_cue("say", "mixed")
    reported: list[SendResult] = []

    results = await sender.broadcast(
        cue, rooms=[with_agent, without_agent, missing], on_result=reported.append
    )

    ok, no_agent, not_found = results
    assert ok.ok and ok.outcome is not None and ok.outcome.status == "applied"
    assert isinstance(no_agent.error, NoAgentInRoom) and no_agent.error.room == without_agent
    assert isinstance(not_found.error, RoomNotFound) and not_found.error.room == missing
    assert not no_agent.ok and not not_found.ok
    assert {r.cue_id for r in results} == {cue.id}
    assert sorted(r.room for r in reported) == sorted([with_agent, without_agent, missing])
    assert agent.cue_ids == [cue.id]


async def test_failed_rooms_report_their_attempts_and_the_agents_answer(
    participants: Participants, credentials: Credentials
) -> None:
    slow, refusing = room_name("ba"), room_name("ba")

    async def hang(call: rtc.RpcInvocationData) -> str:
        await asyncio.sleep(10)  # cancelled by the SDK at the deadline
        raise AssertionError("not reached")

    async def refuse(call: rtc.RpcInvocationData) -> str:
        cue = decode_cue(call.payload)
        return Outcome(cue_id=cue.id, status="rejected", reason="not now").encode()

    hanging = await participants.rpc_agent(slow, respond=hang)
    await participants.rpc_agent(refusing, respond=refuse)

    async with CueSender(credentials, rpc_timeout_s=0.5, max_attempts=2, backoff_base_s=0.01) as s:
        timed_out, refused = await s.broadcast(new_cue("say", "hi"), rooms=[slow, refusing])

    assert isinstance(timed_out.error, DeliveryTimeout)
    assert timed_out.attempts == 2 == len(hanging.calls)
    assert isinstance(refused.error, CueRefused) and refused.error.reason == "not now"
    assert refused.attempts == 1
    assert refused.outcome is not None and refused.outcome.status == "rejected"
