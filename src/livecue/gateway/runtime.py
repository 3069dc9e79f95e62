"""Everything a running gateway holds: built whole in ``create_app``, started by its lifespan.

Construction opens nothing (no connection, no task); :meth:`Gateway.start` migrates the
store, joins the instances serving it, and starts the loops.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from .._cue import decode_cue, encode_cue
from .._errors import ConfigError, LivecueError
from .._livekit import Credentials
from .._signing import SigningKey
from ..sender import CueSender
from ..store import CallbackRecord, CueRecord, KeyRecord, SharedLimits, Store, open_store
from .config import GatewayConfig, Settings
from .services.callbacks import AllowList, CallbackSender, check_secret, parse_schedule
from .services.cue_actions import CueActions
from .services.cue_templates import CueRenderer
from .services.deliverer import Deliverer
from .services.dispatcher import Dispatcher
from .services.hooks import HookProcessor
from .services.instances import Instance
from .services.intake import Intake
from .services.livekit_events import LiveKitEvents
from .services.metrics import Metrics
from .services.ratelimit import LocalRateLimit, RateLimit, SharedRateLimit
from .services.receipts import Receipts, ReceiptWatcher
from .services.schedules import Scheduler
from .views import cue_status

logger = logging.getLogger("livecue.gateway")

KEY_CACHE_S = 2.0
"""How long a looked-up API key is trusted before it is read again (a revocation takes
effect within this, on every instance)."""


def _rate_limit(store: Store, name: str, rate: float) -> RateLimit:
    """Per-process buckets with SQLite (one instance); buckets in the database with
    PostgreSQL, so the limit holds across instances."""
    burst = max(1.0, 2 * rate)
    if store.shared and isinstance(store, SharedLimits):
        return SharedRateLimit(store, name, rate, burst)
    return LocalRateLimit(rate, burst)


class Gateway:
    """The gateway's parts, all built here; nothing connects until :meth:`start`."""

    def __init__(
        self,
        settings: Settings,
        config: GatewayConfig,
        credentials: Credentials,
        *,
        clock: Callable[[], float] = time.time,
        store: Store | None = None,
        sender: Deliverer | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.credentials = credentials
        self.clock = clock
        self.metrics = Metrics()
        self.store = store if store is not None else open_store(settings.db)
        secret = settings.secret.get_secret_value() if settings.secret else ""
        self.signing_key = (
            SigningKey.from_secret(secret)
            if secret
            else SigningKey.from_livekit(credentials.api_key, credentials.api_secret)
        )
        self.sender: Deliverer = sender or CueSender(
            credentials,
            transport=settings.transport,
            secret=self.signing_key,
            rpc_timeout_s=settings.rpc_timeout_s,
            concurrency=settings.dispatch_concurrency,
        )
        self.instance = Instance(self.store, clock=clock)
        self.callback_allow = _callback_allow_list(settings, config)
        self.key_limits = _rate_limit(self.store, "key", settings.rate_per_key)
        self.receipts = Receipts(self.store, self.metrics, clock=clock)
        self.intake = Intake(
            self.store,
            self.metrics,
            room_limit=_rate_limit(self.store, "room", settings.rate_per_room),
            default_transport=settings.transport,
            signing_key=self.signing_key,
            live_rooms=self._live_rooms,
            callbacks=self.callback_allow,
            clock=clock,
        )
        self.actions = CueActions(self.store, self.intake, self.metrics, clock=clock)
        callback_secret = settings.callback_secret
        self.callbacks = CallbackSender(
            self.store,
            self.instance,
            self._callback_data,
            secret=callback_secret.get_secret_value() if callback_secret else None,
            schedule=parse_schedule(settings.callback_retry_s),
            timeout_s=settings.callback_timeout_s,
            clock=clock,
        )
        self.watcher = ReceiptWatcher(
            self.store, self.sender, self.receipts, self.instance, clock=clock
        )
        self.dispatcher = Dispatcher(
            self.store,
            self.sender,
            settings,
            self.metrics,
            self.receipts,
            self.instance,
            on_handed_over=self.watcher.wake,
            clock=clock,
        )
        self.store.listen(self.dispatcher.wake)
        self.store.listen(self.callbacks.wake)
        self.livekit_events = LiveKitEvents(
            agent_joined=self._agent_joined, participant_left=self.receipts.agent_left
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
        self.draining = False
        """Set when the server is asked to stop: open console streams end, so the server's
        drain is not held up by pages left open in a browser."""
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

    async def revoke_key(self, key_id: str) -> bool:
        """Revoke a key; this instance refuses it at once (the others within KEY_CACHE_S)."""
        revoked = await self.store.revoke_key(key_id, now=self.clock())
        self._keys.pop(key_id, None)
        return revoked

    def signed(self, record: CueRecord) -> dict[str, Any]:
        """A stored cue as its agent gets it: signed and bound to its room."""
        cue = decode_cue(record.payload, legacy=False)
        wire = encode_cue(cue, secret=self.signing_key, room=record.room)
        payload: dict[str, Any] = json.loads(wire)
        return payload

    async def _callback_data(self, callback: CallbackRecord) -> dict[str, Any] | None:
        """A callback's ``data``: the cue's record as ``GET /v1/cues/{id}`` shows it."""
        record = await self.store.get_cue(callback.cue_id)
        if record is None:
            return None
        status = cue_status(record, await self.store.history(record.id))
        data: dict[str, Any] = status.model_dump(mode="json", exclude={"callbacks"})
        return data

    async def _live_rooms(self, prefix: str | None) -> list[str]:
        return await self.sender.resolve_rooms(room_prefix=prefix)

    async def _agent_joined(self, room: str, identity: str) -> None:
        await self.dispatcher.release(room, f"agent {identity!r} joined")

    async def start(self) -> None:
        applied = await self.store.migrate()
        if applied:
            logger.info("database migrated", extra={"versions": applied})
        await self.instance.start()
        await self.dispatcher.start()
        self.watcher.start()
        await self.callbacks.start()
        await self.scheduler.start()
        logger.info(
            "gateway started",
            extra={"store": repr(self.store), "instance": self.instance.id},
        )

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.watcher.stop()
        await self.dispatcher.stop(self.settings.shutdown_grace_s)
        await self.callbacks.stop()
        await self.sender.aclose()
        await self.instance.stop()
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
        except (LivecueError, asyncio.TimeoutError) as exc:
            # the class only: this answer is public, and the message names the LiveKit URL
            checks["livekit"] = f"unavailable ({type(exc).__name__})"
        self._ready_cache = (now, checks)
        return checks


def _callback_allow_list(settings: Settings, config: GatewayConfig) -> AllowList:
    """The allow-list, checked with what depends on it: a secret to sign with, and the
    hooks' callback URLs (a mistake is a ConfigError at start, not a 422 at 3 a.m.)."""
    allow = AllowList.parse(settings.callback_allow)
    if allow:
        if settings.callback_secret is None:
            raise ConfigError(
                "LIVECUE_CALLBACK_ALLOW is set but LIVECUE_CALLBACK_SECRET is not: callbacks "
                "are signed with it (whsec_ followed by base64 of 24 or more random bytes)"
            )
        check_secret(settings.callback_secret.get_secret_value())
    for name, hook in config.hooks.items():
        if hook.callback_url is not None:
            try:
                allow.check(hook.callback_url, f"hooks.{name}.callback_url")
            except LivecueError as exc:
                raise ConfigError(str(exc)) from None
    return allow
