"""The waiting queue with coalescing, and the turn limit — pure, clock passed in."""

from __future__ import annotations

import datetime as dt

import pytest

from livecue import Cue, new_cue
from livecue.agent import PendingCues, TurnLimiter
from livecue.agent.framing import context_note, reply_instructions

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def reply(text: str, key: str | None = None, ttl: float = 60) -> Cue:
    return new_cue("reply", text, coalesce_key=key, ttl=ttl, now=NOW)


def test_turn_limiter_counts_a_sliding_window() -> None:
    limiter = TurnLimiter(max_turns=2, window_s=60)
    assert not limiter.at_limit(0.0)
    limiter.record(0.0)
    limiter.record(10.0)
    assert limiter.at_limit(30.0)
    assert limiter.free_at(30.0) == 60.0
    assert not limiter.at_limit(60.0)
    assert limiter.free_at(61.0) == 61.0
    with pytest.raises(ValueError):
        TurnLimiter(max_turns=0)


def test_waiting_replies_with_the_same_key_merge_in_arrival_order() -> None:
    pending = PendingCues()
    a, b, c, d = reply("a"), reply("b", "orders"), reply("c"), reply("d", "orders")
    for cue in (a, b, c, d):
        pending.push(cue)

    first = pending.next_turn()
    assert first is not None and first.cues == (a, c)  # no key is a key of its own
    second = pending.next_turn()
    assert second is not None and second.cues == (b, d)
    assert second.leader is b and second.merged == (d,)
    assert pending.next_turn() is None


def test_merge_all_takes_every_waiting_reply_but_not_other_kinds() -> None:
    pending = PendingCues()
    say = new_cue("say", "hello", now=NOW)
    a, b = reply("a", "x"), reply("b", "y")
    for cue in (a, say, b):
        pending.push(cue)

    turn = pending.next_turn(merge_all=True)
    assert turn is not None and turn.cues == (a, b)
    rest = pending.next_turn(merge_all=True)
    assert rest is not None and rest.cues == (say,)


def test_non_reply_cues_never_merge() -> None:
    pending = PendingCues()
    s1, s2 = new_cue("say", "one", now=NOW), new_cue("say", "two", now=NOW)
    pending.push(s1)
    pending.push(s2)
    turn = pending.next_turn(merge_all=True)
    assert turn is not None and turn.cues == (s1,)


def test_expired_cues_leave_the_queue() -> None:
    pending = PendingCues()
    short, long = reply("short", ttl=5), reply("long", ttl=50)
    pending.push(short)
    pending.push(long)
    assert pending.earliest_expiry() == short.expires_at

    assert pending.drop_expired(NOW + dt.timedelta(seconds=4)) == []
    assert pending.drop_expired(NOW + dt.timedelta(seconds=5)) == [short]
    assert len(pending) == 1 and pending.earliest_expiry() == long.expires_at


def test_framing_never_speaks_as_the_user_and_lists_every_event() -> None:
    one = reply_instructions(["a donation"])
    assert "not said by the user" in one and "a donation" in one

    many = reply_instructions([f"event {n}" for n in range(12)])
    assert "12 events" in many
    assert all(f"{n + 1}. event {n}" in many for n in range(12))
    assert "not said by the user" in context_note("VIP")
