"""The SQLite store: the embedded default, one file, WAL, one gateway at a time.

Writes run on one dedicated thread and connection, reads on another, so the event
loop never blocks on disk and readers never see a transaction half-done. A whole write
transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``) runs in one call on the writer's thread,
so transactions never interleave and cost one hop off the event loop each.

``synchronous=FULL``: each commit is on disk (WAL fsynced) before the gateway answers
202, so an accepted cue survives a power cut, not only a killed process. Group
commit (several requests' cues in one transaction) pays for that fsync once.

One ``livecue serve`` per file: it holds an exclusive lock on ``<file>.lock`` (with its
pid written in it) for as long as it runs; a second one is refused at start.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any, TypeVar

from .._errors import ConfigError, ServiceUnavailable
from . import _queries
from ._sql import Params, Row, SQLStore, Tx
from .migrations import available, migrate_sqlite

T = TypeVar("T")

_Q = _queries.load("sqlite/queries.sql")


class InstanceLocked(ConfigError):
    """Another gateway process serves this SQLite file."""


class _Connection:
    """One connection on one thread of its own."""

    def __init__(self, path: str, name: str) -> None:
        self._path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._conn: sqlite3.Connection | None = None

    async def call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._call, fn)

    def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._conn is None:
            conn = sqlite3.connect(self._path, isolation_level=None, timeout=30.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA busy_timeout = 30000")
            self._conn = conn
        try:
            return fn(self._conn)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "unable to open" in str(exc) or "disk" in str(exc):
                raise ServiceUnavailable(f"the database {self._path} failed: {exc}") from exc
            raise

    async def aclose(self) -> None:
        def close(conn: sqlite3.Connection) -> None:
            conn.close()
            self._conn = None

        if self._conn is not None:
            await self.call(close)
        self._executor.shutdown(wait=True)


class _Tx:
    """Named queries on a connection, on its thread."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.notified = False

    def one(self, query: str, params: Params) -> Row | None:
        row: sqlite3.Row | None = self._conn.execute(_Q[query], params).fetchone()
        return None if row is None else dict(zip(row.keys(), tuple(row), strict=True))

    def all(self, query: str, params: Params) -> list[Row]:
        rows: list[sqlite3.Row] = self._conn.execute(_Q[query], params).fetchall()
        return [dict(zip(r.keys(), tuple(r), strict=True)) for r in rows]

    def run(self, query: str, params: Params) -> int:
        return int(self._conn.execute(_Q[query], params).rowcount)

    def run_many(self, query: str, params: Sequence[Params]) -> None:
        if params:
            self._conn.executemany(_Q[query], params)

    def notify(self) -> None:
        self.notified = True


def _in_transaction(
    conn: sqlite3.Connection, works: Sequence[Callable[[Tx], Any]]
) -> tuple[list[Any], bool]:
    """``works`` in one write transaction (BEGIN IMMEDIATE: reads inside it are current)."""
    conn.execute("BEGIN IMMEDIATE")
    tx = _Tx(conn)
    try:
        results = [work(tx) for work in works]
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return results, tx.notified


class SQLiteStore(SQLStore):
    backend = "sqlite"
    shared = False

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = str(path)
        self._writer = _Connection(self.path, "livecue-sqlite-write")
        self._reader = _Connection(self.path, "livecue-sqlite-read")
        self._lock_file: IO[str] | None = None

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    async def _transaction(self, works: Sequence[Callable[[Tx], Any]]) -> tuple[list[Any], bool]:
        # the writer's one thread runs transactions one after another: no lock of ours
        return await self._writer.call(lambda conn: _in_transaction(conn, works))

    async def _read(self, work: Callable[[Tx], T]) -> T:
        return await self._reader.call(lambda conn: work(_Tx(conn)))

    async def migrate(self) -> list[int]:
        return await self._writer.call(lambda conn: migrate_sqlite(conn, self.path))

    async def schema_version(self) -> tuple[int, int]:
        def read(conn: sqlite3.Connection) -> int:
            exists = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
            ).fetchone()
            if exists is None:
                return 0
            return int(conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)

        return await self._reader.call(read), len(available("sqlite"))

    async def attach_instance(
        self, instance: str, *, host: str, pid: int, now: float, ttl: float
    ) -> None:
        """Become the one gateway serving this file, or raise :class:`InstanceLocked`.

        Any instance recorded before is gone (the lock says so), so its unfinished
        sends are taken over at once.
        """
        self._lock_file = _lock(self.path, pid)
        await self._write(lambda tx: tx.run("retire_others", {"id": instance}))
        await self.heartbeat(instance, host=host, pid=pid, now=now, ttl=ttl)

    async def detach_instance(self, instance: str, *, now: float) -> None:
        await self.retire(instance, now=now)
        if self._lock_file is not None:
            self._lock_file.close()  # releases the lock
            self._lock_file = None

    async def aclose(self) -> None:
        await self._writer.aclose()
        await self._reader.aclose()
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None


def _lock(path: str, pid: int) -> IO[str]:
    """Take ``<path>.lock`` exclusively and write ``pid`` in it (released when closed,
    or when the process dies, so a crash never leaves a stale lock)."""
    lock_path = f"{path}.lock"
    handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the gateway's lifetime
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        other = handle.read().strip() or "unknown"
        handle.close()
        raise InstanceLocked(
            f"the SQLite database {os.path.abspath(path)} is in use by another livecue serve "
            f"(pid {other}); SQLite serves one instance: stop that one, or use PostgreSQL "
            "to run several"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{pid}\n")
    handle.flush()
    return handle


def ensure_free(path: str) -> None:
    """Raise :class:`InstanceLocked` if a gateway serves ``path`` now (a check before
    starting one, so the refusal is one line rather than a failed start)."""
    _lock(path, os.getpid()).close()
