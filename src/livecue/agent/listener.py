"""Serve cues inside a running agent: the only module importing livekit.agents / livekit.rtc.

``attach(session, room)`` listens on both transports — data packets on the
cue topic (and the seed's ``external_trigger``) and the ``livecue.cue`` RPC
method — and runs every cue through origin check, decode, dedup, expiry,
policy, coalescing and the turn limit before acting on it. Decisions live in
the pure modules beside this one; this one wires them to the SDK.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession
from livekit.agents.types import NOT_GIVEN
from livekit.agents.voice import (
    AgentStateChangedEvent,
    SpeechCreatedEvent,
    SpeechHandle,
    UserStateChangedEvent,
)

from .._cue import (
    BUILTIN_KINDS,
    DEFAULT_TOPIC,
    LEGACY_TOPIC,
    RPC_METHOD,
    Cue,
    Outcome,
    OutcomeStatus,
    decode_cue,
    utcnow,
)
from .._errors import CueDecodeError
from .events import CueApplied, CueDropped, CueReceived, EventType, Transport
from .framing import context_note, reply_instructions
from .gateway_client import GatewayClient
from .policy import DEFAULT_RESPONSE_WINDOW_S, Activity, decide, response_wait
from .queue import PendingCues, SeenIds, Turn, TurnLimiter

logger = logging.getLogger("livecue.agent")

CueHandler = Callable[[Cue], "Awaitable[None] | None"]

# how long aclose() waits for receipts still on their way to the gateway
_RECEIPT_FLUSH_S = 2.0


class CueListener(rtc.EventEmitter[EventType]):
    """Receives cues for one AgentSession. Create it with :func:`attach`.

    Events: ``cue_received`` (:class:`CueReceived`), ``cue_applied``
    (:class:`CueApplied`), ``cue_dropped`` (:class:`CueDropped`).
    """

    def __init__(
        self,
        session: AgentSession[Any],
        room: rtc.Room,
        *,
        topic: str = DEFAULT_TOPIC,
        legacy_topic: str | None = LEGACY_TOPIC,
        allow_identities: Iterable[str] = (),
        secret: str | bytes | None = None,
        max_turns_per_minute: int = 10,
        dedup_ttl_s: float = 3600.0,
        dedup_max: int = 10_000,
        clock: Callable[[], datetime] = utcnow,
        gateway_url: str | None = None,
        gateway_key: str | None = None,
        response_window_s: float = DEFAULT_RESPONSE_WINDOW_S,
    ) -> None:
        super().__init__()
        self._session = session
        self._room = room
        self._topic = topic
        self._topics = {topic} | ({legacy_topic} if legacy_topic else set())
        self._allowed = frozenset(allow_identities)
        self._secret = secret
        self._clock = clock
        self._seen = SeenIds(ttl_s=dedup_ttl_s, max_size=dedup_max)
        self._limiter = TurnLimiter(max_turns_per_minute)
        self._pending = PendingCues()
        self._handlers: dict[str, CueHandler] = {}
        self._speeches: dict[SpeechHandle, Turn] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._drain_task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at = 0.0
        # the response window: when the agent and the user last stopped talking (monotonic)
        self._response_window_s = response_window_s
        self._agent_stopped_at: float | None = None
        self._user_stopped_at: float | None = None
        self._merge_all_next = False
        self._drain_again = False
        self._closed = False
        # the gateway's receipts and catch-up, for cues on the data transport
        self._gateway: GatewayClient | None = None
        if gateway_url and gateway_key:
            self._gateway = GatewayClient(gateway_url, gateway_key)
        elif gateway_url or gateway_key:
            logger.warning("gateway receipts are off: give both gateway_url and gateway_key")
        self._receipt_ids: OrderedDict[str, None] = OrderedDict()
        self._receipt_max = dedup_max
        self._receipt_tails: dict[str, asyncio.Task[None]] = {}
        self._receipt_tasks: set[asyncio.Task[None]] = set()

    # -- public API ---------------------------------------------------------

    def register(self, kind: str, handler: CueHandler) -> None:
        """Handle cues of a custom ``kind`` (sync or async); they follow their policy too."""
        if kind in BUILTIN_KINDS:
            raise ValueError(f"{kind!r} is a built-in kind and cannot be overridden")
        self._handlers[kind] = handler

    @property
    def pending(self) -> int:
        """Cues waiting for the agent to be free."""
        return len(self._pending)

    def start(self) -> None:
        self._room.on("data_received", self._on_data_received)
        self._room.local_participant.register_rpc_method(RPC_METHOD, self._on_rpc)
        self._session.on("agent_state_changed", self._on_agent_state_changed)
        self._session.on("user_state_changed", self._on_user_state_changed)
        self._session.on("speech_created", self._on_speech_created)
        self._session.on("close", self._on_session_close)
        if self._gateway is not None:
            self._room.on("reconnected", self._on_reconnected)
            self._spawn(self._catch_up("start"))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._room.off("data_received", self._on_data_received)
        try:
            self._room.local_participant.unregister_rpc_method(RPC_METHOD)
        except Exception:  # the room may already be gone
            logger.debug("could not unregister %s", RPC_METHOD, exc_info=True)
        self._session.off("agent_state_changed", self._on_agent_state_changed)
        self._session.off("user_state_changed", self._on_user_state_changed)
        self._session.off("speech_created", self._on_speech_created)
        self._session.off("close", self._on_session_close)
        if self._timer is not None:
            self._timer.cancel()
        current = asyncio.current_task()  # aclose() itself runs as a task on session close
        tasks = [
            t
            for t in (*self._tasks, self._drain_task)
            if t is not None and t is not current and not t.done()
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._gateway is not None:
            self._room.off("reconnected", self._on_reconnected)
            await self._flush_receipts()
            await self._gateway.aclose()

    # -- SDK callbacks: nothing raised here may reach the SDK ------------------

    def _on_data_received(self, packet: rtc.DataPacket) -> None:
        try:
            if self._closed or packet.topic not in self._topics:
                return
            # The server's packets carry no sender. Neither do those of a hidden
            # participant or of one the agent does not know yet (LiveKit announces
            # non-publishing participants in 3 s batches): a shared secret closes that gap.
            sender = packet.participant.identity if packet.participant is not None else None
            if sender is not None and sender not in self._allowed:
                logger.warning("ignored a cue-shaped packet from participant %r", sender)
                self._drop(None, "?", "rejected", f"not from the server (sent by {sender!r})")
                return
            # the gateway sends on the cue topic; the seed's triggers have no gateway id
            receipt = packet.topic == self._topic
            self._spawn(self._process(packet.data, "data", receipt=receipt))
        except Exception:
            logger.exception("error while receiving a data packet")

    def _on_reconnected(self) -> None:
        try:
            if not self._closed:
                self._spawn(self._catch_up("reconnect"))
        except Exception:
            logger.exception("error after the room reconnected")

    async def _on_rpc(self, data: rtc.RpcInvocationData) -> str:
        try:
            caller = data.caller_identity
            # LiveKit gives a server-initiated call the request id as caller identity.
            from_server = caller == data.request_id and caller not in self._room.remote_participants
            if not from_server and caller not in self._allowed:
                return self._drop(
                    None, "?", "rejected", f"not from the server (sent by {caller!r})"
                ).encode()
            return (await self._process(data.payload.encode(), "rpc")).encode()
        except Exception:
            logger.exception("error while handling a cue over RPC")
            return Outcome(cue_id="?", status="rejected", reason="internal error").encode()

    def _on_agent_state_changed(self, event: AgentStateChangedEvent) -> None:
        if event.old_state == "speaking":
            self._agent_stopped_at = time.monotonic()
        self._drain_soon()

    def _on_user_state_changed(self, event: UserStateChangedEvent) -> None:
        if event.old_state == "speaking":
            self._user_stopped_at = time.monotonic()
        self._drain_soon()

    def _on_speech_created(self, event: SpeechCreatedEvent) -> None:
        # the session's own speeches too: the state may say "listening" a moment before
        # the speech is done, and nothing else would make the queue look again
        event.speech_handle.add_done_callback(lambda _: self._drain_soon())

    def _on_session_close(self, _event: object) -> None:
        self._spawn(self.aclose())

    # -- the pipeline -------------------------------------------------------------

    async def _process(self, raw: bytes, transport: Transport, *, receipt: bool = False) -> Outcome:
        """Run one cue through the pipeline; ``receipt``: report its outcomes to the gateway."""
        now = self._clock()
        try:
            cue = decode_cue(raw, secret=self._secret, now=now)
        except CueDecodeError as exc:
            # not reported: an id that did not decode (or verify) is not to be trusted
            logger.warning("rejected a cue: %s", exc.reason)
            return self._drop(None, "?", "rejected", exc.reason)
        self._emit("cue_received", CueReceived(cue=cue, transport=transport))

        if self._seen.check_and_add(cue.id, time.monotonic()):
            reported = cue.id in self._receipt_ids
            outcome = self._drop(
                cue, cue.id, "duplicate", "this cue id was already received", report=False
            )
            # The first arrival's outcomes are the cue's receipt: a second copy (catch-up
            # overlapping the packet) must not overwrite them. Only a cue first seen over
            # RPC gets "duplicate" as its receipt.
            if receipt and not reported:
                self._send_receipt(outcome)
            return outcome
        if receipt:
            self._track_receipt(cue.id)
        if cue.is_expired(now):
            return self._drop(cue, cue.id, "expired", "the cue expired before it arrived")
        if cue.kind not in BUILTIN_KINDS and cue.kind not in self._handlers:
            return self._drop(cue, cue.id, "rejected", f"no handler for kind {cue.kind!r}")

        decision = decide(cue, self._activity(), queue_empty=len(self._pending) == 0)
        if decision == "skip":
            return self._drop(cue, cue.id, "skipped", "the agent or the user is talking")
        if self._speaks(cue) and self._limiter.at_limit(time.monotonic()):
            decision = "enqueue"  # the turn limit folds it into a later, merged turn
        if decision == "interrupt_and_act" and not self._interrupt_current():
            decision = "enqueue"
        if decision == "enqueue":
            self._pending.push(cue)
            self._drain_soon()
            queued = Outcome(cue_id=cue.id, status="queued")
            self._report(queued)
            return queued
        return await self._act(Turn((cue,)))

    def _activity(self) -> Activity:
        # the session keeps a finished speech as current for a moment after it is done
        current = self._session.current_speech
        speech_active = (current is not None and not current.done()) or any(
            not h.done() for h in self._speeches
        )
        return Activity(
            agent_state=self._session.agent_state,
            user_state=self._session.user_state,
            speech_active=speech_active,
            response_wait_s=response_wait(
                time.monotonic(),
                agent_stopped_at=self._agent_stopped_at,
                user_stopped_at=self._user_stopped_at,
                window_s=self._response_window_s,
            ),
        )

    @staticmethod
    def _speaks(cue: Cue) -> bool:
        return cue.kind in ("reply", "say")

    def _interrupt_current(self) -> bool:
        """Stop the current speech; False if it is marked uninterruptible."""
        try:
            future = self._session.interrupt()
        except RuntimeError as exc:
            logger.info("did not interrupt: %s", exc)
            return False
        future.add_done_callback(_consume_exception)
        return True

    async def _act(self, turn: Turn) -> Outcome:
        cue = turn.leader
        try:
            if cue.kind == "reply":
                events = [c.text or "" for c in turn.cues]
                handle = self._session.generate_reply(
                    instructions=reply_instructions(events),
                    allow_interruptions=_given(cue.allow_interruptions),
                )
                self._watch(handle, turn)
            elif cue.kind == "say":
                handle = self._session.say(
                    cue.text or "", allow_interruptions=_given(cue.allow_interruptions)
                )
                self._watch(handle, turn)
            elif cue.kind == "context":
                await self._add_context(cue.text or "")
            elif cue.kind == "interrupt":
                if not self._interrupt_current():
                    reason = "the current speech is uninterruptible"
                    return self._drop(cue, cue.id, "skipped", reason)
            else:
                result = self._handlers[cue.kind](cue)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            logger.exception("acting on cue %s failed", cue.id)
            for c in turn.cues:
                self._drop(c, c.id, "rejected", f"the agent could not act on it: {exc}")
            return Outcome(cue_id=cue.id, status="rejected", reason=str(exc))

        applied = Outcome(cue_id=cue.id, status="applied")
        self._report(applied)
        self._emit("cue_applied", CueApplied(cue=cue, outcome=applied))
        for c in turn.merged:
            merged = Outcome(cue_id=c.id, status="coalesced", reason=f"merged into cue {cue.id}")
            self._report(merged)
            self._emit("cue_applied", CueApplied(cue=c, outcome=merged))
        return applied

    async def _add_context(self, text: str) -> None:
        agent = self._session.current_agent
        chat_ctx = agent.chat_ctx.copy()
        chat_ctx.add_message(role="system", content=context_note(text))
        await agent.update_chat_ctx(chat_ctx)

    def _watch(self, handle: SpeechHandle, turn: Turn) -> None:
        self._limiter.record(time.monotonic())
        self._speeches[handle] = turn
        handle.add_done_callback(self._on_speech_done)

    def _on_speech_done(self, handle: SpeechHandle) -> None:
        try:
            turn = self._speeches.pop(handle, None)
            if turn is not None and handle.interrupted:
                for c in turn.cues:
                    self._drop(c, c.id, "interrupted", "its speech was cut off")
            self._drain_soon()
        except Exception:
            logger.exception("error after a cue's speech ended")

    # -- the waiting queue ----------------------------------------------------------

    def _drain_soon(self) -> None:
        if self._closed or not len(self._pending):
            return
        if self._drain_task is not None and not self._drain_task.done():
            self._drain_again = True  # it may have looked already: it looks once more
            return
        self._drain_task = asyncio.get_running_loop().create_task(self._drain())

    async def _drain(self) -> None:
        try:
            self._drain_again = False
            while len(self._pending) and not self._closed:
                for cue in self._pending.drop_expired(self._clock()):
                    self._drop(cue, cue.id, "expired", "it expired while waiting")
                if not len(self._pending):
                    break
                activity = self._activity()
                if not activity.idle:
                    break  # a state change or a finished speech calls us again
                if not activity.ready:  # the response window is still open
                    self._wake_at(time.monotonic() + activity.response_wait_s)
                    break
                now = time.monotonic()
                if self._limiter.at_limit(now):
                    self._merge_all_next = True
                    self._wake_at(self._limiter.free_at(now))
                    break
                turn = self._pending.next_turn(merge_all=self._merge_all_next)
                self._merge_all_next = False
                if turn is not None:
                    await self._act(turn)
                # the agent state may lag the call that started the speech: yield first
                await asyncio.sleep(0)
            if self._drain_again and not self._closed:
                self._drain_task = asyncio.get_running_loop().create_task(self._drain())
                return
            self._schedule_expiry_sweep()
        except Exception:
            logger.exception("error while draining waiting cues")

    def _schedule_expiry_sweep(self) -> None:
        earliest = self._pending.earliest_expiry()
        if earliest is None:
            return
        delay = max(0.0, (earliest - self._clock()).total_seconds())
        self._wake_at(time.monotonic() + delay)

    def _wake_at(self, at: float) -> None:
        """Drain again at ``at`` (monotonic), unless a wake-up before it is already set."""
        now = time.monotonic()
        if self._timer is not None:
            if now <= self._timer_at <= at:
                return  # the earlier wake-up drains, and sets the next one
            self._timer.cancel()
        self._timer_at = at
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(max(0.0, at - now) + 0.01, self._drain_soon)

    # -- helpers ------------------------------------------------------------------

    def _drop(
        self,
        cue: Cue | None,
        cue_id: str,
        status: OutcomeStatus,
        reason: str,
        *,
        report: bool = True,
    ) -> Outcome:
        outcome = Outcome(cue_id=cue_id, status=status, reason=reason)
        if report:
            self._report(outcome)
        self._emit("cue_dropped", CueDropped(outcome=outcome, cue=cue))
        return outcome

    def _emit(self, event: EventType, payload: object) -> None:
        try:
            self.emit(event, payload)
        except Exception:
            logger.exception("a %s handler raised", event)

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- the gateway: catch-up and receipts for the data transport -----------------

    async def _catch_up(self, why: str) -> None:
        """Fetch the cues the gateway holds for this room and run each as a data packet.

        They come from the gateway, fetched with our key, so their origin is trusted;
        a cue that also arrives as a packet is a duplicate and is acted on once.
        """
        if self._gateway is None or self._closed:
            return
        try:
            room = self._room.name
            cues = await self._gateway.pending(room)
            if cues:
                logger.info("caught up on %d cues for room %r (%s)", len(cues), room, why)
            for raw in cues:
                if self._closed:
                    return
                await self._process(raw, "data", receipt=True)
        except Exception:
            logger.exception("catching up with the gateway failed")

    def _track_receipt(self, cue_id: str) -> None:
        if self._gateway is None:
            return
        self._receipt_ids[cue_id] = None
        self._receipt_ids.move_to_end(cue_id)
        while len(self._receipt_ids) > self._receipt_max:
            self._receipt_ids.popitem(last=False)

    def _report(self, outcome: Outcome) -> None:
        """Report ``outcome`` if its cue came over the data transport (or from catch-up)."""
        if outcome.cue_id in self._receipt_ids:
            self._send_receipt(outcome)

    def _send_receipt(self, outcome: Outcome) -> None:
        """In the background, after this cue's earlier receipts: the caller never waits."""
        gateway = self._gateway
        if gateway is None:
            return
        try:
            previous = self._receipt_tails.get(outcome.cue_id)
            task = asyncio.get_running_loop().create_task(
                self._post_receipt(gateway, previous, outcome)
            )
            self._receipt_tails[outcome.cue_id] = task
            self._receipt_tasks.add(task)
            task.add_done_callback(functools.partial(self._receipt_sent, outcome.cue_id))
        except Exception:
            logger.exception("could not schedule the receipt for cue %s", outcome.cue_id)

    async def _post_receipt(
        self, gateway: GatewayClient, previous: asyncio.Task[None] | None, outcome: Outcome
    ) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])  # in order per cue, whatever became of it
            await gateway.report(outcome.cue_id, outcome.status, outcome.reason)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("reporting cue %s to the gateway failed", outcome.cue_id)

    def _receipt_sent(self, cue_id: str, task: asyncio.Task[None]) -> None:
        self._receipt_tasks.discard(task)
        if self._receipt_tails.get(cue_id) is task:  # else a later receipt is its tail now
            del self._receipt_tails[cue_id]

    async def _flush_receipts(self) -> None:
        """Give receipts still on their way a moment, then give up on them."""
        tasks = [t for t in self._receipt_tasks if not t.done()]
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=_RECEIPT_FLUSH_S)
        if late:
            logger.warning("%d receipts for the gateway were not sent before closing", len(late))
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)


def _given(value: bool | None) -> Any:
    return NOT_GIVEN if value is None else value


def _consume_exception(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.debug("interrupt finished with %r", future.exception())


def attach(
    session: AgentSession[Any],
    room: rtc.Room,
    *,
    topic: str = DEFAULT_TOPIC,
    legacy_topic: str | None = LEGACY_TOPIC,
    allow_identities: Iterable[str] = (),
    secret: str | bytes | None = None,
    max_turns_per_minute: int = 10,
    dedup_ttl_s: float = 3600.0,
    clock: Callable[[], datetime] = utcnow,
    gateway_url: str | None = None,
    gateway_key: str | None = None,
    response_window_s: float = DEFAULT_RESPONSE_WINDOW_S,
) -> CueListener:
    """Serve cues to ``session`` from ``room``. Call after ``session.start()``.

    - ``allow_identities``: participants whose packets and RPC calls count as trusted
      (by default only the server's are).
    - ``secret``: a shared HMAC secret; every cue must then be signed with it.
    - ``max_turns_per_minute``: cue-driven agent turns allowed per minute; beyond it,
      waiting replies merge into one turn when the limit frees up.
    - ``gateway_url`` and ``gateway_key`` (an API key with the ``agent`` scope) of a
      ``livecue serve`` gateway: on start and after every reconnect the agent fetches the
      cues held for its room, and it reports the outcomes of every cue that came over the
      data transport (the gateway's receipt), in the background; a gateway that is down
      costs a warning in the log, never a cue.
    - ``response_window_s``: after the agent or the user stops talking, how long a
      ``queue`` cue leaves the floor to the other side before it acts (0 turns it off).
    """
    listener = CueListener(
        session,
        room,
        topic=topic,
        legacy_topic=legacy_topic,
        allow_identities=allow_identities,
        secret=secret,
        max_turns_per_minute=max_turns_per_minute,
        dedup_ttl_s=dedup_ttl_s,
        clock=clock,
        gateway_url=gateway_url,
        gateway_key=gateway_key,
        response_window_s=response_window_s,
    )
    listener.start()
    return listener
