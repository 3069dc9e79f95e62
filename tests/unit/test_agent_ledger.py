"""The agent's ledger: dedup by id, and outcomes that only move forward (pure)."""

from __future__ import annotations

import pytest

from livecue import Outcome
from livecue.agent import CueLedger


def test_flags_repeats_within_the_ttl_only() -> None:
    ledger = CueLedger(ttl_s=10)
    assert ledger.check_and_add("a", now=0.0) is False
    assert ledger.check_and_add("a", now=9.9) is True
    assert ledger.check_and_add("a", now=10.0) is False  # forgotten, then remembered anew
    assert ledger.check_and_add("a", now=10.5) is True


def test_is_bounded_forgetting_the_oldest() -> None:
    ledger = CueLedger(ttl_s=1000, max_size=3)
    for n, cue_id in enumerate("abcd"):
        ledger.check_and_add(cue_id, now=float(n))
    assert len(ledger) == 3
    assert "a" not in ledger
    assert ledger.check_and_add("a", now=5.0) is False  # evicted by size
    assert ledger.check_and_add("d", now=5.0) is True


def test_a_received_cue_is_queued_until_its_first_outcome() -> None:
    ledger = CueLedger()
    ledger.check_and_add("a", now=0.0)
    first = ledger.get("a")
    assert first is not None and first.status == "queued" and not first.final
    assert ledger.get("unknown") is None


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        (["queued", "started", "applied"], "applied"),
        (["started", "queued"], "started"),  # a late "queued" does not move it back
        (["applied", "interrupted"], "applied"),  # a final outcome is never replaced
        (["queued", "expired", "started"], "expired"),
        (["started", "interrupted", "applied"], "interrupted"),
        (["rejected", "applied"], "rejected"),
    ],
)
def test_outcomes_only_move_forward(steps: list[str], expected: str) -> None:
    ledger = CueLedger()
    ledger.check_and_add("a", now=0.0)
    for status in steps:
        ledger.record(Outcome(cue_id="a", status=status))  # type: ignore[arg-type]
    latest = ledger.get("a")
    assert latest is not None and latest.status == expected


def test_record_reports_whether_it_kept_the_outcome() -> None:
    ledger = CueLedger()
    assert ledger.record(Outcome(cue_id="never-seen", status="applied")) is False
    ledger.check_and_add("a", now=0.0)
    assert ledger.record(Outcome(cue_id="a", status="started")) is True
    assert ledger.record(Outcome(cue_id="a", status="queued")) is False
    assert ledger.record(Outcome(cue_id="a", status="applied", said="hello")) is True
    assert ledger.record(Outcome(cue_id="a", status="applied")) is False
    kept = ledger.get("a")
    assert kept is not None and kept.said == "hello"
