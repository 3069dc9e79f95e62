"""The outbox loop: claims due cues, delivers them, and records what happened.

Every state change goes through the store first, so a crash at any point
leaves each accepted cue in a state the next start resumes from: ``sending``
cues are retried (the agent's dedup by id makes that safe), ``held`` ones wait
for their agent, everything else is final or due.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable

from ..._backoff import RetryPolicy
from ..._cue import decode_cue
from ..._errors import (
    AgentNotListening,
    CueRefused,
    LivecueError,
    NoAgentInRoom,
    RoomNotFound,
    ServiceUnavailable,
)
from ...store import CueRecord, CueState, Store, room_missing
from ..config import Settings
from .deliverer import Deliverer
from .instances import Instance
from .metrics import Metrics
from .receipts import Receipts

logger = logging.getLogger("livecue.gateway.dispatcher")

SWEEP_S = 1.0
"""How often expired cues are swept up, old ones purged and the state gauge refreshed."""

PURGE_S = 60.0
"""How often finished cues past their retention are deleted."""

NO_AGENT_MEMO_S = 1.0
"""How long "no agent in this room" is believed without asking LiveKit again."""


class Dispatcher:
    def __init__(
        self,
        store: Store,
        sender: Deliverer,
        settings: Settings,
        metrics: Metrics,
        receipts: Receipts,
        instance: Instance,
        *,
        on_handed_over: Callable[[], None] = lambda: None,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._instance = instance
        self._receipts = receipts
        self._on_handed_over = on_handed_over
        self._retry = RetryPolicy(base_s=settings.retry_base_s, cap_s=settings.retry_cap_s)
        self._sender = sender
        self._settings = settings
        self._metrics = metrics
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self._stopping = False
        self._inflight: dict[asyncio.Task[None], str] = {}  # send -> its cue id
        self._loop_task: asyncio.Task[None] | None = None
        self._held_task: asyncio.Task[None] | None = None
        # rooms just found without an agent: a burst of cues for one of them is held
        # without asking LiveKit again for each (an agent's arrival clears the entry)
        self._no_agent_since: dict[str, float] = {}
        self._last_sweep = float("-inf")
        self._last_purge = float("-inf")

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        await self._recover()
        self._loop_task = asyncio.create_task(self._run(), name="livecue-dispatcher")
        self._held_task = asyncio.create_task(self._check_held_rooms(), name="livecue-held-check")

    async def stop(self, grace_s: float) -> None:
        """Stop claiming cues; give in-flight sends ``grace_s`` to finish."""
        self._stopping = True
        self._wake.set()
        for task in (self._loop_task, self._held_task):
            if task is not None:
                task.cancel()
        await asyncio.gather(
            *(t for t in (self._loop_task, self._held_task) if t), return_exceptions=True
        )
        if self._inflight:
            _, pending = await asyncio.wait(list(self._inflight), timeout=grace_s)
            for task in pending:
                task.cancel()
            if pending:
                logger.warning(
                    "%d sends did not finish in time; they resume on restart", len(pending)
                )
                await asyncio.gather(*pending, return_exceptions=True)

    def wake(self) -> None:
        self._wake.set()

    async def release(self, room: str, reason: str) -> int:
        """Queue the cues held for ``room`` (its agent has arrived)."""
        self._no_agent_since.pop(room, None)
        ids = await self._store.release_held(room, now=self._clock(), reason=reason)
        if ids:
            self._metrics.transitions.labels("queued").inc(len(ids))
            self.wake()
        return len(ids)

    # -- the loop -----------------------------------------------------------------

    async def _run(self) -> None:
        while not self._stopping:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except ServiceUnavailable as exc:  # the database is away: it comes back
                logger.warning("dispatcher paused: %s", exc)
                await asyncio.sleep(1.0)
                continue
            except Exception:
                logger.exception("dispatcher pass failed; retrying in 1 s")
                await asyncio.sleep(1.0)
                continue
            await self._sleep_until_due()

    async def _tick(self) -> None:
        if time.monotonic() - self._last_sweep >= SWEEP_S:
            await self._sweep()
        free = self._settings.dispatch_concurrency - len(self._inflight)
        while free > 0 and not self._stopping:
            batch = await self._store.claim_due(
                now=self._clock(), limit=free, owner=self._instance.id
            )
            if not batch:
                break
            self._metrics.transitions.labels("sending").inc(len(batch))
            for record in batch:
                task = asyncio.create_task(self._deliver(record))
                self._inflight[task] = record.id
                task.add_done_callback(self._on_sent)
            free -= len(batch)

    async def _sweep(self) -> None:
        """Housekeeping once a second, not on every pass: each of these reads many rows."""
        self._last_sweep = time.monotonic()
        now = self._clock()
        await self._recover()
        expired = await self._store.expire_due(now=now)
        if expired:
            self._metrics.transitions.labels("expired").inc(len(expired))
            self._metrics.outcomes.labels("expired").inc(len(expired))
        await self._receipts.close_overdue()
        if time.monotonic() - self._last_purge >= PURGE_S:
            self._last_purge = time.monotonic()
            await self._store.purge_finished(before=now - self._settings.retention_s)
        self._metrics.cues_by_state.counts = await self._store.count_by_state()

    async def _recover(self) -> None:
        """Take over what instances that are gone were sending (after a crash), and send
        again what this one was sending when something went wrong in between."""
        recovered = await self._store.recover(now=self._clock())
        if recovered:
            self._metrics.transitions.labels("retrying").inc(len(recovered))
            logger.info("resuming %d cues a stopped instance was sending", len(recovered))
        in_flight = set(self._inflight.values())
        for cue_id in await self._store.sending_by(self._instance.id):
            if cue_id in in_flight:
                continue
            now = self._clock()
            if await self._store.set_state(
                cue_id,
                "retrying",
                from_state="sending",
                now=now,
                reason="its send was interrupted; sending it again",
                next_attempt_at=now,
                owner=self._instance.id,
            ):
                self._metrics.transitions.labels("retrying").inc()

    def _on_sent(self, task: asyncio.Task[None]) -> None:
        self._inflight.pop(task, None)
        self.wake()  # capacity freed: there may be more to claim

    async def _sleep_until_due(self) -> None:
        next_due = await self._store.next_due_at()
        timeout = SWEEP_S
        if next_due is not None:
            timeout = min(timeout, max(0.0, next_due - self._clock()))
        if len(self._inflight) >= self._settings.dispatch_concurrency:
            timeout = 1.0  # full: a finished send wakes us
        self._wake.clear()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    # -- one delivery -------------------------------------------------------------

    async def _deliver(self, record: CueRecord) -> None:
        try:
            seen_empty = self._no_agent_since.get(record.room)
            if seen_empty is not None and time.monotonic() - seen_empty < NO_AGENT_MEMO_S:
                error: LivecueError = NoAgentInRoom(record.room, record.agent_name)
                await self._recorded(lambda: self._failed(record, error))
                return
            # no semaphore here: _tick never claims more than dispatch_concurrency at once
            result = await self._sender.deliver(
                record.room,
                decode_cue(record.payload, legacy=False),  # stored by intake: valid, unsigned
                transport=record.transport,
                agent_name=record.agent_name,
                max_attempts=1,  # retries are durable: scheduled in the store
            )
            if result.error is None or isinstance(result.error, CueRefused):
                if result.outcome is not None or record.transport == "data":
                    latency = max(0.0, self._clock() - record.created_at)
                    self._metrics.delivery_latency.observe(latency)
                await self._recorded(
                    lambda: self._receipts.record(
                        record.id, result.outcome, identity=result.identity
                    )
                )
                self._on_handed_over()
                return
            if isinstance(result.error, (NoAgentInRoom, RoomNotFound)):
                self._remember_no_agent(record.room)
            failure = result.error
            await self._recorded(lambda: self._failed(record, failure))
        except asyncio.CancelledError:
            raise
        except Exception:
            # the sweep finds a cue left in "sending" by this instance and sends it again
            logger.exception("delivering cue %s failed unexpectedly; it is retried", record.id)

    async def _recorded(self, write: Callable[[], Awaitable[object]]) -> None:
        """Record what happened, however long the database is away: the agent may have
        acted, and that must not be lost (a restart of the database loses no outcome)."""
        for attempt in range(1_000_000):
            try:
                await write()
                return
            except ServiceUnavailable as exc:
                if self._stopping and attempt > 3:
                    raise  # shutting down: the cue stays "sending"; another instance resends
                logger.warning("recording a send failed (%s); trying again", exc)
                await asyncio.sleep(min(2.0, 0.1 * 2**attempt))

    def _remember_no_agent(self, room: str) -> None:
        if len(self._no_agent_since) > 10_000:
            self._no_agent_since.clear()
        self._no_agent_since[room] = time.monotonic()

    async def _failed(self, record: CueRecord, error: LivecueError) -> None:
        """Record a failed attempt: held for an agent, retried later, or failed for good."""
        now = self._clock()
        if isinstance(error, RoomNotFound):
            await self._move(record, "held", now, room_missing(record.room))
        elif isinstance(error, NoAgentInRoom):
            await self._move(record, "held", now, str(error))
        elif error.retryable or isinstance(error, AgentNotListening):
            delay = self._retry.delay(min(record.attempts - 1, 30), self._rng.random())
            next_attempt_at = now + max(delay, 0.05)
            await self._move(record, "retrying", now, str(error), next_attempt_at=next_attempt_at)
        else:
            await self._move(record, "failed", now, str(error))

    async def _move(
        self,
        record: CueRecord,
        state: CueState,
        now: float,
        reason: str | None,
        *,
        next_attempt_at: float | None = None,
    ) -> None:
        """Move ``record`` from ``sending`` to ``state`` after an attempt, and count it."""
        if await self._store.set_state(
            record.id,
            state,
            from_state="sending",
            now=now,
            reason=reason,
            next_attempt_at=next_attempt_at,
            owner=self._instance.id,  # unless another instance has taken it over
        ):
            self._metrics.transitions.labels(state).inc()

    # -- held rooms: the slow path when a webhook was missed ------------------------

    async def _check_held_rooms(self) -> None:
        while not self._stopping:
            await asyncio.sleep(self._settings.held_check_s)
            try:
                for room, agent_name in await self._store.held_rooms():
                    if not self._instance.mine(room):
                        continue  # another instance checks this room
                    if await self._sender.room_has_agent(room, agent_name):
                        await self.release(room, "an agent is in the room (periodic check)")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("checking held rooms failed: %s", exc)
