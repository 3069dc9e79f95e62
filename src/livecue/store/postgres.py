"""The PostgreSQL store: several gateway instances on one database.

psycopg 3, async, with a connection pool. What makes several instances safe lives in
the schema and the queries: claims with ``FOR UPDATE SKIP LOCKED`` and an owner (an
instance whose heartbeat row expires has its sends taken over), unique constraints for
idempotency keys, hook deliveries and schedule ticks, shared token buckets for the
rate limits, and ``LISTEN``/``NOTIFY`` so a cue one instance accepts wakes whichever
instance is free at once. ``synchronous_commit`` is left on: a 202 means the cue is on
disk.

Every psycopg error on the way is translated here: a database that cannot be reached
is :class:`~livecue.ServiceUnavailable` (the gateway answers 503 and reconnects by
itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from .._errors import ConfigError, ServiceUnavailable
from .._token_bucket import refill
from . import _queries
from ._sql import Params, Row, SQLStore
from .migrations import available

logger = logging.getLogger("livecue.store.postgres")

_Q = _queries.load("postgres/queries.sql")
_CHANNEL = "livecue"
_MIGRATION_LOCK = 0x6C6976656375  # "livecu": pg_advisory_xact_lock key for migrations
_CONNECT_TIMEOUT_S = 5.0

Connection = psycopg.AsyncConnection[dict[str, Any]]


class _Tx:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.notified = False

    async def one(self, query: str, params: Params) -> Row | None:
        cursor = await self._conn.execute(_Q[query], params, prepare=True)
        return await cursor.fetchone()

    async def all(self, query: str, params: Params) -> Sequence[Row]:
        cursor = await self._conn.execute(_Q[query], params, prepare=True)
        if cursor.description is None:
            return []
        return await cursor.fetchall()

    async def run(self, query: str, params: Params) -> int:
        cursor = await self._conn.execute(_Q[query], params, prepare=True)
        return cursor.rowcount

    async def run_many(self, query: str, params: Sequence[Params]) -> None:
        if params:
            async with self._conn.cursor() as cursor:
                await cursor.executemany(_Q[query], params)

    def notify(self) -> None:
        self.notified = True


class PostgresStore(SQLStore):
    backend = "postgres"
    shared = True

    def __init__(self, url: str, *, min_size: int = 2, max_size: int = 10) -> None:
        super().__init__()
        self.url = url
        self._pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=_CONNECT_TIMEOUT_S,
            connection_class=psycopg.AsyncConnection[dict[str, Any]],
            kwargs={"row_factory": dict_row, "connect_timeout": int(_CONNECT_TIMEOUT_S)},
            check=AsyncConnectionPool.check_connection,
            name="livecue",
        )
        self._opened = False
        self._listener: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({_redacted(self.url)!r})"

    async def _open(self) -> None:
        if not self._opened:
            self._opened = True
            await self._pool.open(wait=False)

    @asynccontextmanager
    async def _connection(self) -> AsyncIterator[Connection]:
        await self._open()
        try:
            async with self._pool.connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise ServiceUnavailable(
                f"PostgreSQL at {_redacted(self.url)} does not answer"
            ) from exc
        except psycopg.OperationalError as exc:
            raise ServiceUnavailable(f"PostgreSQL failed: {_first_line(exc)}") from exc

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[_Tx]:
        async with self._connection() as conn, conn.transaction():
            tx = _Tx(conn)
            yield tx
            if tx.notified:
                await conn.execute(_Q["notify"])
        if tx.notified:
            self._woken()  # this instance too, without waiting for the round trip

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[_Tx]:
        async with self._connection() as conn:
            yield _Tx(conn)

    async def migrate(self) -> list[int]:
        """Apply missing migrations in one transaction under an advisory lock: instances
        starting together wait for the first, then find nothing left to do."""
        migrations = available("postgres")
        applied: list[int] = []
        async with self._connection() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
            await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer)")
            cursor = await conn.execute("SELECT MAX(version) AS v FROM schema_version")
            row = await cursor.fetchone()
            current = int(row["v"] or 0) if row else 0
            if current > len(migrations):
                raise ConfigError(
                    f"the database has schema version {current}, newer than this livecue's "
                    f"{len(migrations)}: upgrade livecue"
                )
            for migration in migrations:
                if migration.version <= current:
                    continue
                await conn.execute(migration.sql.encode())  # several statements, no parameters
                await conn.execute(
                    "INSERT INTO schema_version (version) VALUES (%s)", (migration.version,)
                )
                applied.append(migration.version)
        return applied

    async def schema_version(self) -> tuple[int, int]:
        async with self._connection() as conn:
            cursor = await conn.execute("SELECT to_regclass('schema_version') AS t")
            row = await cursor.fetchone()
            if row is None or row["t"] is None:
                return 0, len(available("postgres"))
            cursor = await conn.execute("SELECT MAX(version) AS v FROM schema_version")
            row = await cursor.fetchone()
        return (int(row["v"] or 0) if row else 0), len(available("postgres"))

    async def attach_instance(
        self, instance: str, *, host: str, pid: int, now: float, ttl: float
    ) -> None:
        """Join the instances serving this database; start listening for their work."""
        await self.heartbeat(instance, host=host, pid=pid, now=now, ttl=ttl)
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="livecue-pg-listen")

    async def detach_instance(self, instance: str, *, now: float) -> None:
        await self.retire(instance, now=now)

    async def _listen(self) -> None:
        """``LISTEN livecue`` on a connection of its own, reconnecting after a failure."""
        while True:
            try:
                conn = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=int(_CONNECT_TIMEOUT_S)
                )
                async with conn:
                    await conn.execute(f"LISTEN {_CHANNEL}")
                    self._woken()  # work stored while we were not listening
                    async for _ in conn.notifies():
                        self._woken()
            except asyncio.CancelledError:
                raise
            except psycopg.Error as exc:
                logger.warning("listening for work failed (%s); retrying", _first_line(exc))
            await asyncio.sleep(1.0)

    async def take_tokens(
        self, name: str, *, rate: float, burst: float, want: float, now: float
    ) -> float:
        """Take up to ``want`` tokens from the shared bucket ``name``; returns how many."""
        async with self.transaction() as tx:
            await tx.run("ensure_bucket", {"name": name, "burst": burst, "now": now})
            row = await tx.one("lock_bucket", {"name": name})
            assert row is not None
            tokens = refill(row["tokens"], row["updated_at"], now, rate=rate, burst=burst)
            granted = min(want, max(0.0, tokens))
            await tx.run("set_bucket", {"name": name, "tokens": tokens - granted, "now": now})
            return granted

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._opened:
            await self._pool.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _redacted(url: str) -> str:
    """The URL without its password."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://…"
    user, host = str(info.get("user") or ""), str(info.get("host") or "")
    port, db = str(info.get("port") or ""), str(info.get("dbname") or "")
    return f"postgresql://{user + '@' if user else ''}{host}{':' + port if port else ''}/{db}"
