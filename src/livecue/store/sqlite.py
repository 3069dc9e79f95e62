"""The SQLite store: the embedded default, one file, WAL.

Every operation runs on one dedicated thread with one connection, so writes
are serialised without locks of our own and the event loop never blocks on
disk. ``synchronous=NORMAL`` in WAL mode survives a killed process (what the
gateway promises); it trades the last commits on power loss for throughput.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from . import _queries
from .records import CueEvent, CueRecord, CueState, KeyRecord, NewCue

T = TypeVar("T")
SCHEMA_VERSION = 1

_Q = _queries.load("sqlite_queries.sql")


def _record(row: sqlite3.Row) -> CueRecord:
    return CueRecord(**{k: row[k] for k in row.keys()})  # noqa: SIM118 - Row has no __iter__ of keys


def _insert(conn: sqlite3.Connection, cue: NewCue, now: float) -> None:
    """Store ``cue`` as queued, with its first history entry (inside the caller's transaction)."""
    # NewCue's fields are the query's parameters (vars: asdict's deep copy is slow here)
    conn.execute(_Q["insert_cue"], {**vars(cue), "now": now})
    conn.execute(
        _Q["insert_event"], {"cue_id": cue.id, "at": now, "state": "queued", "reason": "accepted"}
    )


class SQLiteStore:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="livecue-sqlite")
        self._conn: sqlite3.Connection | None = None

    # -- plumbing ---------------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            self._conn = conn
        return fn(self._conn)

    @staticmethod
    def _tx(conn: sqlite3.Connection, fn: Callable[[], T]) -> T:
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn()
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def migrate(self) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.executescript(_queries.script("sqlite_schema.sql"))
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] > SCHEMA_VERSION:
                raise RuntimeError(
                    f"database {self.path} has schema version {row[0]}, newer than this livecue"
                )

        await self._run(run)

    async def ping(self) -> None:
        await self._run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def aclose(self) -> None:
        def close(conn: sqlite3.Connection) -> None:
            conn.close()
            self._conn = None

        if self._conn is not None:
            await self._run(close)
        self._executor.shutdown(wait=True)

    # -- cues -------------------------------------------------------------------

    async def insert_cue(
        self, cue: NewCue, *, now: float, hook_delivery: tuple[str, str] | None = None
    ) -> tuple[CueRecord, bool]:
        """Store ``cue`` as queued. Returns (record, created).

        An earlier cue with the same (key_id, idempotency_key), made from the same
        hook delivery, or with the same id, is returned instead with ``created`` False.
        """

        def run(conn: sqlite3.Connection) -> tuple[CueRecord, bool]:
            def body() -> tuple[CueRecord, bool]:
                if hook_delivery is not None:
                    hook, delivery = hook_delivery
                    row = conn.execute(
                        _Q["get_hook_delivery"], {"hook": hook, "delivery_id": delivery}
                    ).fetchone()
                    if row is not None:
                        existing = conn.execute(_Q["get_cue"], {"id": row[0]}).fetchone()
                        return _record(existing), False
                if cue.idempotency_key is not None:
                    row = conn.execute(
                        _Q["get_cue_by_idempotency_key"],
                        {"key_id": cue.key_id, "idempotency_key": cue.idempotency_key},
                    ).fetchone()
                    if row is not None:
                        return _record(row), False
                # an id given by the sender that is already taken: the caller decides
                row = conn.execute(_Q["get_cue"], {"id": cue.id}).fetchone()
                if row is not None:
                    return _record(row), False
                _insert(conn, cue, now)
                if hook_delivery is not None:
                    conn.execute(
                        _Q["insert_hook_delivery"],
                        {
                            "hook": hook_delivery[0],
                            "delivery_id": hook_delivery[1],
                            "cue_id": cue.id,
                            "now": now,
                        },
                    )
                return _record(conn.execute(_Q["get_cue"], {"id": cue.id}).fetchone()), True

            return self._tx(conn, body)

        return await self._run(run)

    async def insert_cues(self, cues: list[NewCue], *, now: float) -> list[CueRecord]:
        """Store several cues in one transaction (a broadcast)."""

        def run(conn: sqlite3.Connection) -> list[CueRecord]:
            def body() -> list[CueRecord]:
                out = []
                for cue in cues:
                    _insert(conn, cue, now)
                    out.append(_record(conn.execute(_Q["get_cue"], {"id": cue.id}).fetchone()))
                return out

            return self._tx(conn, body)

        return await self._run(run)

    async def get_cue(self, cue_id: str) -> CueRecord | None:
        row = await self._run(lambda c: c.execute(_Q["get_cue"], {"id": cue_id}).fetchone())
        return _record(row) if row is not None else None

    async def history(self, cue_id: str) -> list[CueEvent]:
        rows = await self._run(lambda c: c.execute(_Q["get_events"], {"cue_id": cue_id}).fetchall())
        return [CueEvent(at=r["at"], state=r["state"], reason=r["reason"]) for r in rows]

    async def claim_due(self, *, now: float, limit: int) -> list[CueRecord]:
        """Move up to ``limit`` due cues to ``sending`` and return them."""

        def run(conn: sqlite3.Connection) -> list[CueRecord]:
            def body() -> list[CueRecord]:
                rows = conn.execute(_Q["claim_due"], {"now": now, "limit": limit}).fetchall()
                records = [_record(r) for r in rows]
                conn.executemany(
                    _Q["insert_event"],
                    [
                        {"cue_id": r.id, "at": now, "state": "sending", "reason": None}
                        for r in records
                    ],
                )
                return records

            return self._tx(conn, body)

        return await self._run(run)

    async def set_state(
        self,
        cue_id: str,
        state: CueState,
        *,
        from_state: CueState,
        now: float,
        reason: str | None = None,
        outcome: str | None = None,
        next_attempt_at: float | None = None,
    ) -> bool:
        """Move a cue from ``from_state`` to ``state``; False if it was not in ``from_state``."""

        def run(conn: sqlite3.Connection) -> bool:
            def body() -> bool:
                changed = conn.execute(
                    _Q["set_state"],
                    {
                        "id": cue_id,
                        "state": state,
                        "from_state": from_state,
                        "reason": reason,
                        "outcome": outcome,
                        "next_attempt_at": next_attempt_at,
                        "now": now,
                    },
                ).rowcount
                if changed:
                    conn.execute(
                        _Q["insert_event"],
                        {"cue_id": cue_id, "at": now, "state": state, "reason": reason},
                    )
                return bool(changed)

            return self._tx(conn, body)

        return await self._run(run)

    async def _bulk(self, query: str, params: dict[str, Any], state: str) -> list[str]:
        def run(conn: sqlite3.Connection) -> list[str]:
            def body() -> list[str]:
                ids = [r[0] for r in conn.execute(_Q[query], params).fetchall()]
                conn.executemany(
                    _Q["insert_event"],
                    [
                        {
                            "cue_id": i,
                            "at": params["now"],
                            "state": state,
                            "reason": params["reason"],
                        }
                        for i in ids
                    ],
                )
                return ids

            return self._tx(conn, body)

        return await self._run(run)

    async def release_held(self, room: str, *, now: float, reason: str) -> list[str]:
        return await self._bulk(
            "release_held", {"room": room, "now": now, "reason": reason}, "queued"
        )

    async def expire_due(self, *, now: float) -> list[str]:
        return await self._bulk(
            "expire_due", {"now": now, "reason": "expired before delivery"}, "expired"
        )

    async def recover(self, *, now: float) -> list[str]:
        """After a crash: cues caught in ``sending`` are retried (the agent dedups by id)."""
        return await self._bulk(
            "recover_sending",
            {"now": now, "reason": "gateway restarted while sending"},
            "retrying",
        )

    async def purge_finished(self, *, before: float) -> int:
        """Delete finished cues last changed before ``before``, with their history."""

        def run(conn: sqlite3.Connection) -> int:
            def body() -> int:
                conn.execute(_Q["purge_finished_events"], {"before": before})
                conn.execute(_Q["purge_hook_deliveries"], {"before": before})
                return conn.execute(_Q["purge_finished"], {"before": before}).rowcount

            return self._tx(conn, body)

        return await self._run(run)

    async def held_rooms(self) -> list[tuple[str, str | None]]:
        """(room, agent name) pairs that cues are held for."""
        rows = await self._run(lambda c: c.execute(_Q["held_rooms"]).fetchall())
        return [(r[0], r[1]) for r in rows]

    async def next_due_at(self) -> float | None:
        row = await self._run(lambda c: c.execute(_Q["next_due_at"]).fetchone())
        return None if row is None or row[0] is None else float(row[0])

    async def pending_for_room(self, room: str, *, now: float) -> list[CueRecord]:
        rows = await self._run(
            lambda c: c.execute(_Q["pending_for_room"], {"room": room, "now": now}).fetchall()
        )
        return [_record(r) for r in rows]

    async def count_by_state(self) -> dict[str, int]:
        rows = await self._run(lambda c: c.execute(_Q["count_by_state"]).fetchall())
        return {r["state"]: r["n"] for r in rows}

    # -- hooks, schedules, keys -----------------------------------------------------

    async def hook_delivery(self, hook: str, delivery_id: str) -> str | None:
        row = await self._run(
            lambda c: c.execute(
                _Q["get_hook_delivery"], {"hook": hook, "delivery_id": delivery_id}
            ).fetchone()
        )
        return None if row is None else str(row[0])

    async def last_tick(self, schedule: str) -> float | None:
        row = await self._run(
            lambda c: c.execute(_Q["get_last_tick"], {"schedule": schedule}).fetchone()
        )
        return None if row is None else float(row[0])

    async def advance_tick(self, schedule: str, tick: float) -> bool:
        """Record ``tick`` as fired; False if it (or a later one) already was."""
        changed = await self._run(
            lambda c: c.execute(_Q["advance_tick"], {"schedule": schedule, "tick": tick}).rowcount
        )
        return bool(changed)

    async def add_key(
        self, key_id: str, secret_hash: str, scopes: list[str], *, name: str | None, now: float
    ) -> None:
        await self._run(
            lambda c: c.execute(
                _Q["insert_key"],
                {
                    "id": key_id,
                    "secret_hash": secret_hash,
                    "scopes": " ".join(scopes),
                    "name": name,
                    "now": now,
                },
            )
        )

    async def get_key(self, key_id: str) -> KeyRecord | None:
        row = await self._run(lambda c: c.execute(_Q["get_key"], {"id": key_id}).fetchone())
        if row is None:
            return None
        return KeyRecord(
            id=row["id"],
            secret_hash=row["secret_hash"],
            scopes=frozenset(row["scopes"].split()),
            name=row["name"],
            created_at=row["created_at"],
        )
