"""Everything a running gateway holds, built in ``create_app`` and started by its lifespan."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from .._cue import decode_cue, encode_cue
from .._errors import LivecueError
from .._livekit import Credentials
from .._signing import SigningKey
from ..sender import CueSender
from ..store import CueRecord, KeyRecord, SQLiteStore, Store
from .config import GatewayConfig, Settings
from .services.cue_templates import CueRenderer
from .services.dispatcher import Dispatcher
from .services.hooks import HookProcessor
from .services.intake import Intake
from .services.livekit_events import LiveKitEvents
from .services.metrics import Metrics
from .services.ratelimit import TokenBuckets
from .services.receipts import Receipts, ReceiptWatcher
from .services.schedules import Scheduler

logger = logging.getLogger("livecue.gateway")

KEY_CACHE_S = 2.0
"""How long a looked-up API key is trusted before it is read again (a revocation takes
effect within this)."""


class Gateway:
    """The gateway's parts. Nothing opens a connection until :meth:`start`."""

    def __init__(
        self,
        settings: Settings,
        config: GatewayConfig,
        credentials: Credentials,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.config = config
        self.credentials = credentials
        self.clock = clock
        self.metrics = Metrics()
        secret = settings.secret.get_secret_value() if settings.secret else ""
        self.signing_key = (
            SigningKey.from_secret(secret)
            if secret
            else SigningKey.from_livekit(credentials.api_key, credentials.api_secret)
        )
        self.store: Store = SQLiteStore(settings.db)
        self.key_limits = TokenBuckets(
            settings.rate_per_key, burst=max(1.0, 2 * settings.rate_per_key)
        )
        self._sender: CueSender | None = None
        self._dispatcher: Dispatcher | None = None
        self._watcher: ReceiptWatcher | None = None
        self.receipts = Receipts(self.store, self.metrics, wake=self._wake, clock=clock)
        self.livekit_events = LiveKitEvents(
            agent_joined=self._agent_joined, participant_left=self.receipts.agent_left
        )
        self.intake = Intake(
            self.store,
            self.metrics,
            rate_per_room=settings.rate_per_room,
            default_transport=settings.transport,
            wake=self._wake,
            signing_key=self.signing_key,
            clock=clock,
        )
        self.renderer = CueRenderer()
        self.hooks = HookProcessor(
            config.hooks,
            self.store,
            self.intake,
            self.renderer,
            self.metrics,
            default_ttl_s=settings.default_ttl_s,
            clock=clock,
        )
        self.scheduler = Scheduler(
            config.schedules,
            self.store,
            self.intake,
            self.renderer,
            self._live_rooms,
            default_ttl_s=settings.default_ttl_s,
            clock=clock,
        )
        self._ready_cache: tuple[float, dict[str, str]] | None = None
        self._keys: dict[str, tuple[float, KeyRecord | None]] = {}

    async def api_key(self, key_id: str) -> KeyRecord | None:
        """The key's record, cached briefly: a database read per request would cap throughput."""
        now = time.monotonic()
        cached = self._keys.get(key_id)
        if cached is not None and now - cached[0] < KEY_CACHE_S:
            return cached[1]
        record = await self.store.get_key(key_id)
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[key_id] = (now, record)
        return record

    async def _live_rooms(self, prefix: str | None) -> list[str]:
        return await self.sender.resolve_rooms(room_prefix=prefix)

    @property
    def sender(self) -> CueSender:
        if self._sender is None:
            raise RuntimeError("the gateway is not started")
        return self._sender

    @property
    def dispatcher(self) -> Dispatcher:
        if self._dispatcher is None:
            raise RuntimeError("the gateway is not started")
        return self._dispatcher

    def signed(self, record: CueRecord) -> dict[str, Any]:
        """A stored cue as its agent gets it: signed and bound to its room."""
        cue = decode_cue(record.payload, legacy=False)
        wire = encode_cue(cue, secret=self.signing_key, room=record.room)
        payload: dict[str, Any] = json.loads(wire)
        return payload

    def _wake(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.wake()

    async def _agent_joined(self, room: str, identity: str) -> None:
        if self._dispatcher is not None:
            await self._dispatcher.release(room, f"agent {identity!r} joined")

    async def start(self) -> None:
        await self.store.migrate()
        self._sender = CueSender(
            self.credentials,
            transport=self.settings.transport,
            secret=self.signing_key,
            rpc_timeout_s=self.settings.rpc_timeout_s,
            concurrency=self.settings.dispatch_concurrency,
        )
        self._watcher = ReceiptWatcher(self.store, self._sender, self.receipts, clock=self.clock)
        self._dispatcher = Dispatcher(
            self.store,
            self._sender,
            self.settings,
            self.metrics,
            self.receipts,
            on_handed_over=self._watcher.wake,
            clock=self.clock,
        )
        await self._dispatcher.start()
        self._watcher.start()
        await self.scheduler.start()
        logger.info("gateway started", extra={"db": self.settings.db})

    async def stop(self) -> None:
        await self.scheduler.stop()
        if self._watcher is not None:
            await self._watcher.stop()
        if self._dispatcher is not None:
            await self._dispatcher.stop(self.settings.shutdown_grace_s)
        if self._sender is not None:
            await self._sender.aclose()
        await self.store.aclose()
        logger.info("gateway stopped")

    @asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state; cached for a second so probes cost little."""
        now = time.monotonic()
        if self._ready_cache is not None and now - self._ready_cache[0] < 1.0:
            return self._ready_cache[1]
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(self.store.ping(), 2.0)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unavailable ({type(exc).__name__})"
        try:
            await asyncio.wait_for(self.sender.resolve_rooms(), 2.0)
            checks["livekit"] = "ok"
        except (LivecueError, asyncio.TimeoutError, RuntimeError) as exc:
            # the class only: this answer is public, and the message names the LiveKit URL
            checks["livekit"] = f"unavailable ({type(exc).__name__})"
        self._ready_cache = (now, checks)
        return checks
