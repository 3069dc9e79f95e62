"""Pure bookkeeping for the agent side: waiting cues and the turn rate limit.

Times are plain floats (seconds) or datetimes passed in by the caller, so all
of it is testable without a clock or an event loop.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime

from .._cue import Cue


class TurnLimiter:
    """At most ``max_turns`` cue-driven agent turns in any ``window_s`` seconds."""

    def __init__(self, max_turns: int, window_s: float = 60.0) -> None:
        if max_turns < 1:
            raise ValueError("max_turns must be at least 1")
        self._max = max_turns
        self._window = window_s
        self._turns: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self._turns and now - self._turns[0] >= self._window:
            self._turns.popleft()

    def at_limit(self, now: float) -> bool:
        self._trim(now)
        return len(self._turns) >= self._max

    def record(self, now: float) -> None:
        self._turns.append(now)

    def free_at(self, now: float) -> float:
        """When the next turn will be allowed (``now`` if already allowed)."""
        self._trim(now)
        if len(self._turns) < self._max:
            return now
        return self._turns[0] + self._window


@dataclass(frozen=True)
class Turn:
    """Cues acted on together: the first leads, the rest were merged into it."""

    cues: tuple[Cue, ...]

    @property
    def leader(self) -> Cue:
        return self.cues[0]

    @property
    def merged(self) -> tuple[Cue, ...]:
        return self.cues[1:]


class PendingCues:
    """Cues waiting for the agent to be free, in arrival order."""

    def __init__(self) -> None:
        self._cues: list[Cue] = []

    def __len__(self) -> int:
        return len(self._cues)

    def push(self, cue: Cue) -> None:
        self._cues.append(cue)

    def earliest_expiry(self) -> datetime | None:
        return min((c.expires_at for c in self._cues), default=None)

    def drop_expired(self, now: datetime) -> list[Cue]:
        expired = [c for c in self._cues if c.is_expired(now)]
        if expired:
            self._cues = [c for c in self._cues if not c.is_expired(now)]
        return expired

    def next_turn(self, *, merge_all: bool = False) -> Turn | None:
        """Take the oldest cue and, if it is a reply, every waiting reply it can merge with.

        Replies merge when their ``coalesce_key`` is equal (no key counts as a key
        of its own); with ``merge_all`` — the turn limit was reached — every
        waiting reply joins the turn.
        """
        if not self._cues:
            return None
        leader = self._cues.pop(0)
        if leader.kind != "reply":
            return Turn((leader,))
        merged = [
            c
            for c in self._cues
            if c.kind == "reply" and (merge_all or c.coalesce_key == leader.coalesce_key)
        ]
        if merged:
            ids = {c.id for c in merged}
            self._cues = [c for c in self._cues if c.id not in ids]
        return Turn((leader, *merged))
