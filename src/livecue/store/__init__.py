"""Durable storage for the gateway: the outbox of cues, their history, hooks, schedules, keys.

Everything depends on :class:`Store`, the interface; ``SQLiteStore`` is the
embedded implementation. SQL lives in ``sql/<backend>/`` as named queries and
numbered migrations; the rules of a cue's life are pure functions in ``records``.
"""

from __future__ import annotations

from .base import Store
from .records import (
    FINAL_STATES,
    OPEN_STATES,
    SCOPES,
    CueEvent,
    CueRecord,
    CueState,
    KeyRecord,
    NewCue,
    Scope,
    Transition,
    WatchedCue,
    room_missing,
    state_for_outcome,
)
from .sqlite import SQLiteStore

__all__ = [
    "FINAL_STATES",
    "OPEN_STATES",
    "SCOPES",
    "CueEvent",
    "CueRecord",
    "CueState",
    "KeyRecord",
    "NewCue",
    "SQLiteStore",
    "Scope",
    "Store",
    "Transition",
    "WatchedCue",
    "room_missing",
    "state_for_outcome",
]
