"""What became of each cue this agent received: its dedup memory and its receipts (pure).

One record per cue id, bounded in count and in time. A cue seen again is a
duplicate; a status call is answered from here. Outcomes only move forward:
``queued`` → ``started`` → a final one, and a final outcome is never replaced,
so a late or repeated report cannot rewrite what happened.
"""

from __future__ import annotations

from collections import OrderedDict

from .._cue import Outcome

_RANK = {"queued": 0, "started": 1}  # every other (final) status ranks 2


def _rank(outcome: Outcome) -> int:
    return _RANK.get(outcome.status, 2)


class CueLedger:
    def __init__(self, *, ttl_s: float = 3600.0, max_size: int = 10_000) -> None:
        self._ttl_s = ttl_s
        self._max_size = max_size
        self._records: OrderedDict[str, tuple[float, Outcome]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, cue_id: object) -> bool:
        return cue_id in self._records

    def check_and_add(self, cue_id: str, now: float) -> bool:
        """True if ``cue_id`` was received before (a duplicate); otherwise remember it,
        as ``queued`` until its first outcome is recorded."""
        self._evict(now)
        if cue_id in self._records:
            return True
        self._records[cue_id] = (now, Outcome(cue_id=cue_id, status="queued", reason="received"))
        if len(self._records) > self._max_size:
            self._records.popitem(last=False)
        return False

    def record(self, outcome: Outcome) -> bool:
        """Keep ``outcome`` as the cue's latest; False (nothing kept) if it would go backwards
        or replace a final outcome, or if the cue is unknown (forgotten or never received)."""
        entry = self._records.get(outcome.cue_id)
        if entry is None:
            return False
        seen_at, current = entry
        if current.final or _rank(outcome) < _rank(current):
            return False
        self._records[outcome.cue_id] = (seen_at, outcome)
        return True

    def get(self, cue_id: str) -> Outcome | None:
        entry = self._records.get(cue_id)
        return None if entry is None else entry[1]

    def _evict(self, now: float) -> None:
        # insertion order is arrival order, so the oldest records sit at the front
        while self._records:
            first_id, (at, _) = next(iter(self._records.items()))
            if now - at < self._ttl_s:
                break
            del self._records[first_id]
