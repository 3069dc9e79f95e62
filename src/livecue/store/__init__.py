"""Durable storage for the gateway: the outbox of cues, their history, hooks, schedules, keys.

``SQLiteStore`` is the embedded default. Every store offers the same async
methods (see ``SQLiteStore``); SQL lives in ``sql/*.sql`` as named queries.
"""

from __future__ import annotations

from .records import (
    FINAL_STATES,
    SCOPES,
    CueEvent,
    CueRecord,
    CueState,
    KeyRecord,
    NewCue,
    Scope,
    state_after_outcome,
)
from .sqlite import SQLiteStore

Store = SQLiteStore

__all__ = [
    "FINAL_STATES",
    "SCOPES",
    "CueEvent",
    "CueRecord",
    "CueState",
    "KeyRecord",
    "NewCue",
    "SQLiteStore",
    "Scope",
    "Store",
    "state_after_outcome",
]
