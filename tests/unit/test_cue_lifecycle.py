"""The rules of a cue's life at the gateway: one outcome-to-state mapping, never backwards."""

from __future__ import annotations

import pytest

from livecue.store import FINAL_STATES, OPEN_STATES, state_for_outcome
from livecue.store.records import (
    after_agent_left,
    after_outcome,
    after_overdue,
    expiry_reason,
    room_missing,
)

OUTCOMES = [
    "queued",
    "started",
    "applied",
    "coalesced",
    "expired",
    "duplicate",
    "skipped",
    "interrupted",
    "rejected",
]


@pytest.mark.parametrize(
    ("outcome", "state"),
    [
        (None, "at_agent"),
        ("queued", "at_agent"),
        ("started", "at_agent"),
        ("applied", "delivered"),
        ("coalesced", "delivered"),
        ("interrupted", "delivered"),
        ("skipped", "delivered"),
        ("duplicate", "delivered"),
        ("expired", "expired"),
        ("rejected", "failed"),
    ],
)
def test_each_outcome_has_one_state(outcome: str | None, state: str) -> None:
    assert state_for_outcome(outcome) == state


def test_every_outcome_is_mapped() -> None:
    for outcome in OUTCOMES:
        assert state_for_outcome(outcome) in FINAL_STATES | OPEN_STATES


@pytest.mark.parametrize("final", sorted(FINAL_STATES))
@pytest.mark.parametrize("outcome", OUTCOMES)
def test_nothing_changes_a_final_record(final: str, outcome: str) -> None:
    assert after_outcome(final, "applied", outcome, None) is None


@pytest.mark.parametrize(
    ("known", "late", "moves"),
    [
        ("started", "queued", False),
        ("started", None, False),
        ("queued", None, False),
        ("queued", "started", True),
        ("queued", "queued", True),  # the same news again: harmless
        (None, "queued", True),
        ("started", "applied", True),
        ("queued", "expired", True),
    ],
)
def test_at_the_agent_outcomes_only_move_forward(
    known: str | None, late: str | None, moves: bool
) -> None:
    assert (after_outcome("at_agent", known, late, None) is not None) is moves


@pytest.mark.parametrize("state", ["queued", "sending", "held", "retrying"])
def test_any_word_from_the_agent_moves_a_cue_the_gateway_still_holds(state: str) -> None:
    # e.g. a data packet that arrived although its send timed out
    move = after_outcome(state, None, "applied", "done")
    assert move is not None and move.state == "delivered" and move.reason == "done"


def test_an_agent_leaving_before_acting_sends_the_cue_again() -> None:
    move = after_agent_left("queued", expired=False, identity="agent-1")
    assert move.state == "queued" and "left before acting" in (move.reason or "")
    lost = after_agent_left(None, expired=False, identity="agent-1", lost=True)
    assert lost.state == "queued" and "no record of it" in (lost.reason or "")


def test_an_agent_leaving_after_its_cue_expired_ends_it_expired() -> None:
    move = after_agent_left("queued", expired=True, identity="agent-1")
    assert move.state == "expired" and "expired" in (move.reason or "")


def test_a_cue_acted_on_is_never_delivered_again() -> None:
    move = after_agent_left("started", expired=False, identity="agent-1")
    assert move.state == "delivered" and move.outcome == "interrupted"
    assert after_overdue("started", "agent-1").state == "delivered"
    assert after_overdue("queued", "agent-1").state == "expired"


def test_a_held_cue_for_a_room_that_never_existed_says_so_when_it_expires() -> None:
    assert "did not exist" in expiry_reason("held", room_missing("r-1"), "r-1")
    assert "no agent joined" in expiry_reason("held", "room 'r-1' has no agent in it", "r-1")
    assert expiry_reason("queued", None, "r-1") == "expired before delivery"
