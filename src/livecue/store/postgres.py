"""The PostgreSQL store: several gateway instances on one database.

psycopg 3 with a connection pool; each transaction runs whole on a worker thread (one
hop off the event loop), while ``LISTEN`` waits on an async connection of its own.
What makes several instances safe lives in the schema and the queries: claims with
``FOR UPDATE SKIP LOCKED`` and an owner (an instance whose heartbeat row expires has
its sends taken over), unique constraints for idempotency keys, hook deliveries and
schedule ticks, shared token buckets for the rate limits, and ``LISTEN``/``NOTIFY`` so
a cue one instance accepts wakes whichever instance is free at once.
``synchronous_commit`` is left on: a 202 means the cue is on disk.

Every psycopg error on the way is translated here: a database that cannot be reached
is :class:`~livecue.ServiceUnavailable` (the gateway answers 503 and reconnects by
itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolTimeout

from .._errors import ConfigError, InvalidRequest, ServiceUnavailable
from .._token_bucket import refill
from . import _queries
from ._sql import Params, Row, SQLStore, Tx
from .migrations import available

logger = logging.getLogger("livecue.store.postgres")

_Q = _queries.load("postgres/queries.sql")
_CHANNEL = "livecue"
_MIGRATION_LOCK = 0x6C6976656375  # "livecu": pg_advisory_xact_lock key for migrations
_CONNECT_TIMEOUT_S = 5.0
T = TypeVar("T")

Connection = psycopg.Connection[dict[str, Any]]


def _storable(params: Params) -> Params:
    """``params``, or an InvalidRequest naming the one PostgreSQL's text cannot hold: NUL is
    the one character it refuses (psycopg would raise a DataError, a 500 to the caller).
    Text that reaches the store from outside is checked at the edge; this is the backstop
    for what is only looked up (an id or name in a path or a filter)."""
    for name, value in params.items():
        if isinstance(value, str) and "\x00" in value:
            raise InvalidRequest(f"{name}: must not contain NUL characters")
    return params


class _Tx:
    """Named queries on a connection, on a worker thread."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.notified = False

    def one(self, query: str, params: Params) -> Row | None:
        return self._conn.execute(_Q[query], _storable(params), prepare=True).fetchone()

    def all(self, query: str, params: Params) -> Sequence[Row]:
        cursor = self._conn.execute(_Q[query], _storable(params), prepare=True)
        return [] if cursor.description is None else cursor.fetchall()

    def run(self, query: str, params: Params) -> int:
        return self._conn.execute(_Q[query], _storable(params), prepare=True).rowcount

    def run_many(self, query: str, params: Sequence[Params]) -> None:
        if params:
            with self._conn.cursor() as cursor:
                cursor.executemany(_Q[query], params)

    def notify(self) -> None:
        self.notified = True


class PostgresStore(SQLStore):
    backend = "postgres"
    shared = True
    parallel_writes = 4

    def __init__(self, url: str, *, min_size: int = 4, max_size: int = 10) -> None:
        super().__init__()
        self.url = url
        self._pool: ConnectionPool[Connection] = ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            timeout=_CONNECT_TIMEOUT_S,
            connection_class=psycopg.Connection[dict[str, Any]],
            kwargs={"row_factory": dict_row, "connect_timeout": int(_CONNECT_TIMEOUT_S)},
            # a connection the server ended while it sat in the pool (a failover, a restart,
            # pg_terminate_backend, an idle timeout) is replaced rather than failing the next
            # request; one round trip per transaction, and transactions are batched
            check=ConnectionPool.check_connection,
            name="livecue",
        )
        # a transaction's statements run together on a worker thread: one hop per transaction
        self._threads = ThreadPoolExecutor(max_workers=max_size, thread_name_prefix="livecue-pg")
        self._opened = False
        self._listener: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"PostgresStore({_redacted(self.url)!r})"

    def _run(self, work: Callable[[Connection], T]) -> T:
        """On a worker thread: ``work`` on a pooled connection, errors translated."""
        if not self._opened:
            self._opened = True
            self._pool.open(wait=False)
        try:
            with self._pool.connection() as conn:
                return work(conn)
        except PoolTimeout as exc:
            where = _redacted(self.url)
            raise ServiceUnavailable(f"PostgreSQL at {where} does not answer") from exc
        except psycopg.OperationalError as exc:
            raise ServiceUnavailable(f"PostgreSQL failed: {_first_line(exc)}") from exc

    async def _call(self, work: Callable[[Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._threads, self._run, work)

    async def _transaction(self, works: Sequence[Callable[[Tx], Any]]) -> tuple[list[Any], bool]:
        def transaction(conn: Connection) -> tuple[list[Any], bool]:
            with conn.transaction():
                tx = _Tx(conn)
                results = [work(tx) for work in works]
                if tx.notified:  # the other instances; this one is woken when it returns
                    conn.execute(_Q["notify"])
            return results, tx.notified

        return await self._call(transaction)

    async def _read(self, work: Callable[[Tx], T]) -> T:
        return await self._call(lambda conn: work(_Tx(conn)))

    async def migrate(self) -> list[int]:
        """Apply missing migrations in one transaction under an advisory lock: instances
        starting together wait for the first, then find nothing left to do."""
        migrations = available("postgres")

        def run(conn: Connection) -> list[int]:
            applied: list[int] = []
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer)")
                row = conn.execute("SELECT MAX(version) AS v FROM schema_version").fetchone()
                current = int(row["v"] or 0) if row else 0
                if current > len(migrations):
                    raise ConfigError(
                        f"the database has schema version {current}, newer than this "
                        f"livecue's {len(migrations)}: upgrade livecue"
                    )
                for migration in migrations:
                    if migration.version <= current:
                        continue
                    conn.execute(migration.sql.encode())  # several statements, no parameters
                    conn.execute(
                        "INSERT INTO schema_version (version) VALUES (%s)", (migration.version,)
                    )
                    applied.append(migration.version)
            return applied

        return await self._call(run)

    async def schema_version(self) -> tuple[int, int]:
        def read(conn: Connection) -> int:
            row = conn.execute("SELECT to_regclass('schema_version') AS t").fetchone()
            if row is None or row["t"] is None:
                return 0
            row = conn.execute("SELECT MAX(version) AS v FROM schema_version").fetchone()
            return int(row["v"] or 0) if row else 0

        return await self._call(read), len(available("postgres"))

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

        def work(tx: Tx) -> float:
            tx.run("ensure_bucket", {"name": name, "burst": burst, "now": now})
            row = tx.one("lock_bucket", {"name": name})
            assert row is not None
            tokens = refill(row["tokens"], row["updated_at"], now, rate=rate, burst=burst)
            granted = min(want, max(0.0, tokens))
            # a request whose clock was read before another's got the lock must not move
            # the bucket's time back: the same interval would be refilled twice
            since = max(now, row["updated_at"])
            tx.run("set_bucket", {"name": name, "tokens": tokens - granted, "now": since})
            return granted

        return await self._write(work)

    async def aclose(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
            self._listener = None
        if self._opened:
            await asyncio.get_running_loop().run_in_executor(self._threads, self._pool.close)
        self._threads.shutdown(wait=True)


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
