"""Helpers for the gateway tests: a real livekit-server whose webhooks reach a real gateway process.

Imported by the test modules of this directory (pytest puts the directory on ``sys.path``).
"""

from __future__ import annotations

import asyncio
import base64
import os
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from harness.agent import RunningAgent, start_agent
from harness.gateway import GatewayProcess
from harness.livekit_server import LiveKitServer, free_port
from harness.observer import Observer
from harness.postgres import PostgresServer
from livecue.store import CueFilter, CueRecord, Store, open_store

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
FINAL = {"delivered", "expired", "failed"}

T = TypeVar("T")

DONATION_SECRET = "whsec_" + base64.b64encode(os.urandom(24)).decode()
"""The example donations hook's secret (DONATION_WEBHOOK_SECRET) for this test run."""


def room_name(prefix: str = "gw") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


@dataclass
class Stack:
    """A livekit-server that sends its webhooks to a gateway process, and an admin key."""

    livekit: LiveKitServer
    gateway: GatewayProcess
    admin_key: str = ""
    keys: dict[tuple[str, ...], str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.gateway.url

    def key(self, *scopes: str) -> str:
        """An API key with exactly ``scopes`` (made once per scope set)."""
        wanted = tuple(sorted(scopes))
        if wanted not in self.keys:
            self.keys[wanted] = self.gateway.create_key(*wanted)
        return self.keys[wanted]

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.admin_key}"}

    def client(self, key: str | None = None, **options: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers=self.headers(key), timeout=options.pop("timeout", 10.0)
        )

    def close(self) -> None:
        try:
            self.gateway.close()
        finally:
            self.livekit.stop()


BACKENDS = ["sqlite", "postgres"]


def database(backend: str, postgres: PostgresServer | None) -> str:
    """A fresh, empty database for a gateway: "" (a SQLite file of the gateway's own) or
    a new database in the session's PostgreSQL cluster."""
    if backend == "sqlite":
        return ""
    assert postgres is not None, "the postgres fixture is needed for the postgres backend"
    return postgres.database()


def make_stack(
    *,
    config: str | Path | None = None,
    env: dict[str, str] | None = None,
    start_livekit: bool = True,
    start_gateway: bool = True,
    webhooks: bool = True,
    db: str = "",
) -> Stack:
    """Start livekit-server (webhooks to the gateway's port) and then the gateway, on the
    database ``db`` (default: a SQLite file of its own).

    The caller must ``close()`` the stack (fixtures do it in ``finally``).
    """
    port = free_port()
    livekit = LiveKitServer(
        webhook_urls=[f"http://127.0.0.1:{port}/livekit/webhook"] if webhooks else []
    )
    gateway = GatewayProcess(
        livekit,
        port=port,
        db=db,
        config=str(config) if config else None,
        env_extra=dict(env or {}),
    )
    stack = Stack(livekit, gateway)
    try:
        if start_livekit:
            livekit.start()
        stack.admin_key = gateway.create_key("admin")
        if start_gateway:
            gateway.start()
    except BaseException:
        stack.close()
        raise
    return stack


@contextmanager
def running_stack(**options: Any) -> Iterator[Stack]:
    stack = make_stack(**options)
    try:
        yield stack
    finally:
        stack.close()


@asynccontextmanager
async def live_agent(
    livekit: LiveKitServer, room: str, *, observer: bool = True, **agent_options: Any
) -> AsyncIterator[tuple[Observer, RunningAgent]]:
    """An observer (the agent's user, who reads its words) and a real AgentSession in ``room``.

    ``observer=False`` for a second agent in a room that has its observer already (the
    first item is then that room's observer only in name: do not use it).
    """
    watcher = await Observer.join(livekit, room) if observer else None
    try:
        agent = await start_agent(livekit, room, **agent_options)
        try:
            yield watcher or Observer(agent.room), agent
        finally:
            await agent.stop()
    finally:
        if watcher is not None:
            await watcher.leave()


async def until(
    check: Callable[[], Awaitable[T | None]], *, timeout: float, interval: float = 0.1, what: str
) -> T:
    """Await ``check()`` until it returns something truthy; fail naming ``what`` at ``timeout``."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last seen: {last!r}")


async def until_true(
    predicate: Callable[[], bool], *, timeout: float, interval: float = 0.02, what: str
) -> None:
    """Wait until ``predicate()`` holds; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def post_cue(client: httpx.AsyncClient, room: str, **body: Any) -> str:
    """POST a cue to ``room`` (it must be accepted: 202); returns its id."""
    r = await client.post(f"/v1/rooms/{room}/cues", json=body)
    assert r.status_code == 202, r.text
    cue_id: str = r.json()["id"]
    return cue_id


async def wait_cue(
    client: httpx.AsyncClient,
    cue_id: str,
    states: set[str] | frozenset[str] = frozenset(FINAL),
    *,
    timeout: float = 15.0,
) -> dict[str, Any]:
    """GET /v1/cues/{id} until its status is one of ``states``; returns the body."""

    async def check() -> dict[str, Any] | None:
        r = await client.get(f"/v1/cues/{cue_id}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body if body["status"] in states else None

    return await until(check, timeout=timeout, what=f"cue {cue_id} to reach {sorted(states)}")


@asynccontextmanager
async def store_of(stack: Stack) -> AsyncIterator[Store]:
    """The gateway's database, through the store (as the gateway itself reads it)."""
    store = open_store(stack.gateway.db)
    try:
        yield store
    finally:
        await store.aclose()


async def cues_where(stack: Stack, where: CueFilter | None = None) -> list[CueRecord]:
    """Every cue matching ``where`` (all of them by default), newest first."""
    async with store_of(stack) as store:
        return await store.list_cues(where or CueFilter(), limit=1_000_000)


def applied_counts(agent: RunningAgent) -> dict[str, int]:
    """How many times the agent acted on each cue id (``cue_applied`` with outcome applied)."""
    counts: dict[str, int] = {}
    for event in agent.events:
        if event.type == "cue_applied" and event.outcome.status == "applied":
            counts[event.outcome.cue_id] = counts.get(event.outcome.cue_id, 0) + 1
    return counts


def received_ids(agent: RunningAgent) -> list[str]:
    return [e.cue.id for e in agent.events if e.type == "cue_received"]
