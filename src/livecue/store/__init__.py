"""Durable storage for the gateway: the outbox of cues, their history, hooks, schedules, keys.

Everything depends on :class:`Store`, the interface; ``SQLiteStore`` (embedded, one
instance) and ``PostgresStore`` (several instances) implement it, and :func:`open_store`
picks one from ``--db`` / ``LIVECUE_DB``. SQL lives in ``sql/<backend>/`` as named queries and
numbered migrations; the rules of a cue's life are pure functions in ``records``.
"""

from __future__ import annotations

import urllib.parse

from .._errors import ConfigError
from .base import SharedLimits, Store
from .records import (
    CANCELLABLE,
    FINAL_STATES,
    OPEN_STATES,
    SCOPES,
    CallbackAttempt,
    CallbackRecord,
    CueEvent,
    CueFilter,
    CueRecord,
    CueState,
    HookLogEntry,
    HookResult,
    KeyRecord,
    NewCue,
    Scope,
    Source,
    Transition,
    WatchedCue,
    room_missing,
    state_for_outcome,
)
from .sqlite import InstanceLocked, SQLiteStore


def describe(db: str) -> str:
    """``db`` fit to print: a database URL without its password."""
    if "://" not in db:
        return db
    parts = urllib.parse.urlsplit(db)
    if parts.password is None:
        return db
    host = parts.hostname or ""
    netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def open_store(db: str) -> Store:
    """The store ``db`` names: ``postgresql://...`` (several instances), or a SQLite file —
    a path, or ``sqlite:///relative.db`` / ``sqlite:////absolute.db``. Nothing is
    connected until first use."""
    if db.startswith(("postgresql://", "postgres://")):
        from .postgres import PostgresStore  # psycopg only when asked for

        return PostgresStore(db)
    if db.startswith("sqlite:///"):
        return SQLiteStore(db[len("sqlite:///") :])
    if "://" in db:
        scheme = db.split("://", 1)[0]
        raise ConfigError(
            f"unknown database URL scheme {scheme!r}: give a SQLite path, sqlite:///path, "
            "or postgresql://user@host/dbname"
        )
    if not db:
        raise ConfigError("no database given (a SQLite path or a postgresql:// URL)")
    return SQLiteStore(db)


__all__ = [
    "CANCELLABLE",
    "FINAL_STATES",
    "OPEN_STATES",
    "SCOPES",
    "CallbackAttempt",
    "CallbackRecord",
    "CueEvent",
    "CueFilter",
    "CueRecord",
    "CueState",
    "HookLogEntry",
    "HookResult",
    "InstanceLocked",
    "KeyRecord",
    "NewCue",
    "SQLiteStore",
    "Scope",
    "SharedLimits",
    "Source",
    "Store",
    "Transition",
    "WatchedCue",
    "describe",
    "open_store",
    "room_missing",
    "state_for_outcome",
]
