"""The SQLite store: the embedded default, one file, WAL.

Every operation runs on one dedicated thread with one connection, so writes
are serialised without locks of our own and the event loop never blocks on
disk. ``synchronous=NORMAL`` in WAL mode survives a killed process (what the
gateway promises); it trades the last commits on power loss for throughput.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from . import _queries
from .records import (
    OVERDUE_S,
    CueEvent,
    CueRecord,
    CueState,
    KeyRecord,
    NewCue,
    Transition,
    WatchedCue,
    after_agent_left,
    after_outcome,
    after_overdue,
    expiry_reason,
)

T = TypeVar("T")

_Q = _queries.load("sqlite/queries.sql")


def _record(row: sqlite3.Row) -> CueRecord:
    return CueRecord(**{k: row[k] for k in row.keys()})  # noqa: SIM118 - Row has no __iter__ of keys


def _event(
    conn: sqlite3.Connection,
    cue_id: str,
    now: float,
    state: str,
    reason: str | None,
    outcome: str | None = None,
) -> None:
    conn.execute(
        _Q["insert_event"],
        {"cue_id": cue_id, "at": now, "state": state, "reason": reason, "outcome": outcome},
    )


def _insert(conn: sqlite3.Connection, cue: NewCue, now: float) -> None:
    """Store ``cue`` as queued, with its first history entry (inside the caller's transaction)."""
    # NewCue's fields are the query's parameters (vars: asdict's deep copy is slow here)
    conn.execute(_Q["insert_cue"], {**vars(cue), "now": now})
    _event(conn, cue.id, now, "queued", "accepted")


def _key(row: sqlite3.Row) -> KeyRecord:
    return KeyRecord(
        id=row["id"],
        secret_hash=row["secret_hash"],
        scopes=frozenset(row["scopes"].split()),
        name=row["name"],
        created_at=row["created_at"],
        revoked_at=row["revoked_at"],
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

    async def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one write transaction (BEGIN IMMEDIATE: reads inside it are current)."""

        def run(conn: sqlite3.Connection) -> T:
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = fn(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

        return await self._run(run)

    async def migrate(self) -> None:
        from .migrations import migrate_sqlite

        await self._run(lambda conn: migrate_sqlite(conn, self.path))

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

        def body(conn: sqlite3.Connection) -> tuple[CueRecord, bool]:
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

        return await self._tx(body)

    async def insert_cues(self, cues: Sequence[NewCue], *, now: float) -> list[CueRecord]:
        """Store several cues in one transaction (a broadcast)."""

        def body(conn: sqlite3.Connection) -> list[CueRecord]:
            out = []
            for cue in cues:
                _insert(conn, cue, now)
                out.append(_record(conn.execute(_Q["get_cue"], {"id": cue.id}).fetchone()))
            return out

        return await self._tx(body)

    async def get_cue(self, cue_id: str) -> CueRecord | None:
        row = await self._run(lambda c: c.execute(_Q["get_cue"], {"id": cue_id}).fetchone())
        return _record(row) if row is not None else None

    async def history(self, cue_id: str) -> list[CueEvent]:
        rows = await self._run(lambda c: c.execute(_Q["get_events"], {"cue_id": cue_id}).fetchall())
        return [
            CueEvent(at=r["at"], state=r["state"], reason=r["reason"], outcome=r["outcome"])
            for r in rows
        ]

    async def claim_due(self, *, now: float, limit: int) -> list[CueRecord]:
        """Move up to ``limit`` due cues to ``sending`` and return them."""

        def body(conn: sqlite3.Connection) -> list[CueRecord]:
            rows = conn.execute(_Q["claim_due"], {"now": now, "limit": limit}).fetchall()
            records = [_record(r) for r in rows]
            conn.executemany(
                _Q["insert_event"],
                [
                    {"cue_id": r.id, "at": now, "state": "sending", "reason": None, "outcome": None}
                    for r in records
                ],
            )
            return records

        return await self._tx(body)

    async def set_state(
        self,
        cue_id: str,
        state: CueState,
        *,
        from_state: CueState,
        now: float,
        reason: str | None = None,
        next_attempt_at: float | None = None,
    ) -> bool:
        """Move a cue from ``from_state`` to ``state`` (the gateway's own steps: held,
        retrying, failed); False if it was not in ``from_state``."""

        def body(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(
                _Q["set_state"],
                {
                    "id": cue_id,
                    "state": state,
                    "from_state": from_state,
                    "reason": reason,
                    "next_attempt_at": next_attempt_at,
                    "now": now,
                },
            ).rowcount
            if changed:
                _event(conn, cue_id, now, state, reason)
            return bool(changed)

        return await self._tx(body)

    async def record_outcome(
        self,
        cue_id: str,
        outcome: str | None,
        *,
        now: float,
        receipt: str | None = None,
        reason: str | None = None,
        identity: str | None = None,
    ) -> tuple[CueRecord | None, Transition | None]:
        """Apply what the agent said of a cue (``outcome``; None: handed over, no word yet).

        Returns the record as it is now and the transition made (None when nothing
        changed: a late or older outcome never overwrites a final or newer one).
        """

        def body(conn: sqlite3.Connection) -> tuple[CueRecord | None, Transition | None]:
            row = conn.execute(_Q["get_cue"], {"id": cue_id}).fetchone()
            if row is None:
                return None, None
            current = _record(row)
            move = after_outcome(current.state, current.outcome, outcome, reason)
            if move is None:
                return current, None
            conn.execute(
                _Q["set_outcome"],
                {
                    "id": cue_id,
                    "state": move.state,
                    "outcome": move.outcome,
                    "receipt": receipt,
                    "reason": move.reason,
                    "identity": identity,
                    "now": now,
                    "from_state": current.state,
                    "from_outcome": current.outcome,
                },
            )
            if (current.state, current.outcome) != (move.state, move.outcome):
                _event(conn, cue_id, now, move.state, move.reason, move.outcome)
            return _record(conn.execute(_Q["get_cue"], {"id": cue_id}).fetchone()), move

        return await self._tx(body)

    async def agent_left(
        self,
        room: str,
        identity: str,
        *,
        now: float,
        only: Sequence[str] | None = None,
        lost: bool = False,
    ) -> list[tuple[str, Transition]]:
        """The agent ``identity`` left ``room`` (or lost the cues in ``only``): each cue it
        had and had not finished is delivered again, expired, or closed if acted on."""

        def body(conn: sqlite3.Connection) -> list[tuple[str, Transition]]:
            rows = conn.execute(_Q["at_agent_of"], {"room": room, "identity": identity}).fetchall()
            wanted = None if only is None else set(only)
            moved = []
            for row in rows:
                if wanted is not None and row["id"] not in wanted:
                    continue
                move = after_agent_left(
                    row["outcome"], expired=row["expires_at"] <= now, identity=identity, lost=lost
                )
                self._apply(conn, row["id"], move, now)
                moved.append((row["id"], move))
            return moved

        return await self._tx(body)

    async def close_overdue(self, *, now: float) -> list[tuple[str, Transition]]:
        """Close cues still at an agent :data:`OVERDUE_S` after they expired."""

        def body(conn: sqlite3.Connection) -> list[tuple[str, Transition]]:
            rows = conn.execute(_Q["overdue"], {"before": now - OVERDUE_S}).fetchall()
            moved = []
            for row in rows:
                move = after_overdue(row["outcome"], row["agent_identity"])
                self._apply(conn, row["id"], move, now)
                moved.append((row["id"], move))
            return moved

        return await self._tx(body)

    @staticmethod
    def _apply(conn: sqlite3.Connection, cue_id: str, move: Transition, now: float) -> None:
        conn.execute(
            _Q["requeue"],
            {
                "id": cue_id,
                "state": move.state,
                "outcome": move.outcome,
                "reason": move.reason,
                "now": now,
            },
        )
        _event(conn, cue_id, now, move.state, move.reason, move.outcome)

    async def watched(self, *, limit: int = 10_000) -> list[WatchedCue]:
        """Cues at an agent and not final, least recently changed first."""
        rows = await self._run(lambda c: c.execute(_Q["watched"], {"limit": limit}).fetchall())
        return [
            WatchedCue(
                id=r["id"],
                room=r["room"],
                agent_identity=r["agent_identity"],
                outcome=r["outcome"],
                transport=r["transport"],
                updated_at=r["updated_at"],
            )
            for r in rows
        ]

    async def release_held(self, room: str, *, now: float, reason: str) -> list[str]:
        def body(conn: sqlite3.Connection) -> list[str]:
            params = {"room": room, "now": now, "reason": reason}
            ids = [r[0] for r in conn.execute(_Q["release_held"], params).fetchall()]
            for cue_id in ids:
                _event(conn, cue_id, now, "queued", reason)
            return ids

        return await self._tx(body)

    async def expire_due(self, *, now: float) -> list[str]:
        """Expire cues that were never handed to an agent in time; the reason says why."""

        def body(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(_Q["due_to_expire"], {"now": now}).fetchall()
            for row in rows:
                reason = expiry_reason(row["state"], row["reason"], row["room"])
                conn.execute(
                    _Q["set_expired"],
                    {"id": row["id"], "reason": reason, "now": now, "from_state": row["state"]},
                )
                _event(conn, row["id"], now, "expired", reason)
            return [r["id"] for r in rows]

        return await self._tx(body)

    async def recover(self, *, now: float) -> list[str]:
        """After a crash: cues caught in ``sending`` are retried (the agent dedups by id)."""

        def body(conn: sqlite3.Connection) -> list[str]:
            reason = "gateway restarted while sending"
            rows = conn.execute(_Q["recover_sending"], {"now": now, "reason": reason})
            ids = [r[0] for r in rows.fetchall()]
            for cue_id in ids:
                _event(conn, cue_id, now, "retrying", reason)
            return ids

        return await self._tx(body)

    async def purge_finished(self, *, before: float) -> int:
        """Delete finished cues last changed before ``before``, with their history."""

        def body(conn: sqlite3.Connection) -> int:
            conn.execute(_Q["purge_finished_events"], {"before": before})
            conn.execute(_Q["purge_hook_deliveries"], {"before": before})
            return int(conn.execute(_Q["purge_finished"], {"before": before}).rowcount)

        return await self._tx(body)

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
        """A key that exists and is not revoked."""
        row = await self._run(lambda c: c.execute(_Q["get_key"], {"id": key_id}).fetchone())
        return None if row is None else _key(row)

    async def list_keys(self) -> list[KeyRecord]:
        rows = await self._run(lambda c: c.execute(_Q["list_keys"]).fetchall())
        return [_key(r) for r in rows]

    async def revoke_key(self, key_id: str, *, now: float) -> bool:
        """Revoke a key; False if there is no such key or it was revoked already."""
        changed = await self._run(
            lambda c: c.execute(_Q["revoke_key"], {"id": key_id, "now": now}).rowcount
        )
        return bool(changed)
