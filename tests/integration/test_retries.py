"""Retries: a slow agent times out, the same cue id is retried, and then it lands."""

from __future__ import annotations

import asyncio

import pytest
from livekit import api, rtc

from livecue import Credentials, CueSender, DeliveryTimeout, new_cue

from .conftest import Participants, answer_applied, room_name

pytestmark = pytest.mark.integration


async def _hang(call: rtc.RpcInvocationData) -> str:
    await asyncio.sleep(10)  # the SDK cancels the handler at the caller's deadline
    raise AssertionError("not reached")


async def test_a_timed_out_rpc_is_retried_with_the_same_cue_id(
    participants: Participants, credentials: Credentials
) -> None:
    room = room_name()
    first = True

    async def slow_once(call: rtc.RpcInvocationData) -> str:
        nonlocal first
        if first:
            first = False
            return await _hang(call)
        return await answer_applied(call)

    agent = await participants.rpc_agent(room, respond=slow_once)
    cue = new_cue("reply", "retry me")

    async with CueSender(credentials, rpc_timeout_s=0.5, max_attempts=3, backoff_base_s=0.01) as s:
        result = await s.send(room, cue)

    assert result.attempts == 2
    assert result.outcome is not None and result.outcome.status == "applied"
    assert agent.cue_ids == [cue.id, cue.id]


async def test_an_agent_that_never_answers_in_time_is_a_retryable_timeout(
    participants: Participants, credentials: Credentials
) -> None:
    room = room_name()
    agent = await participants.rpc_agent(room, respond=_hang)
    cue = new_cue("reply", "too slow")

    async with CueSender(credentials, rpc_timeout_s=0.5, max_attempts=2, backoff_base_s=0.01) as s:
        with pytest.raises(DeliveryTimeout, match="did not answer in time") as caught:
            await s.send(room, cue)

    assert caught.value.retryable
    assert caught.value.room == room
    assert agent.cue_ids == [cue.id, cue.id]  # max_attempts calls, one cue id
    # What livekit-server v1.13 answers when the handler misses the deadline:
    cause = caught.value.__cause__
    assert isinstance(cause, api.ServerError)
    assert (cause.status, cause.code) == (408, "canceled")
    assert "RpcError 1502: Response timeout" in cause.message
