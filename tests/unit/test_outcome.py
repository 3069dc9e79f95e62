"""Outcomes: what the agent did with a cue, as sent back over RPC."""

from __future__ import annotations

import json
from typing import get_args

import pytest

from livecue import CueDecodeError, Outcome, OutcomeStatus

# DESIGN §3: every status but "queued" and "started" is where a cue's story ends.
STATUSES = [
    "applied",
    "queued",
    "started",
    "coalesced",
    "expired",
    "duplicate",
    "skipped",
    "interrupted",
    "rejected",
]


def test_the_statuses_are_the_designed_ones() -> None:
    assert sorted(get_args(OutcomeStatus)) == sorted(STATUSES)


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("reason", [None, "too large", 'é ✓ "quoted"'])
def test_round_trip(status: OutcomeStatus, reason: str | None) -> None:
    outcome = Outcome(cue_id="cue-1", status=status, reason=reason)
    assert Outcome.decode(outcome.encode()) == outcome


def test_encode_is_json_without_empty_reason() -> None:
    assert json.loads(Outcome(cue_id="c", status="applied").encode()) == {
        "cue_id": "c",
        "status": "applied",
    }
    assert json.loads(Outcome(cue_id="c", status="rejected", reason="bad").encode()) == {
        "cue_id": "c",
        "status": "rejected",
        "reason": "bad",
    }


def test_decode_reads_what_another_implementation_writes() -> None:
    raw = '{ "status": "rejected", "reason": "unknown kind", "cue_id": "c-9" }'
    assert Outcome.decode(raw) == Outcome(cue_id="c-9", status="rejected", reason="unknown kind")


@pytest.mark.parametrize("status", STATUSES)
def test_final(status: OutcomeStatus) -> None:
    assert Outcome(cue_id="c", status=status).final is (status not in ("queued", "started"))


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[]",
        "null",
        '{"cue_id": "c"}',
        '{"status": "applied"}',
        '{"cue_id": "c", "status": "done"}',
        '{"cue_id": "c", "status": "Applied"}',
        '{"cue_id": 1, "status": "applied"}',
        '{"cue_id": "c", "status": "applied", "reason": 5}',
        '{"cue_id": "c", "status": "applied"',
    ],
)
def test_invalid_outcomes_are_cue_decode_errors(raw: str) -> None:
    with pytest.raises(CueDecodeError) as info:
        Outcome.decode(raw)
    assert "outcome" in info.value.reason


def test_outcomes_are_frozen() -> None:
    outcome = Outcome(cue_id="c", status="queued")
    with pytest.raises(ValueError):
        outcome.status = "applied"  # type: ignore[misc]
