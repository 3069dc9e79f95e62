"""Serve cues inside a running agent: the only module importing livekit.agents / livekit.rtc.

``attach(session, room)`` listens on both transports — data packets on the
cue topic and the ``livecue.cue`` RPC method — and runs every cue through
origin check, signature, decode, dedup, expiry, policy, coalescing and the turn
limit before acting on it. It answers ``livecue.status`` calls from the record
it keeps of every cue (the ledger), so a sender learns each cue's final outcome
and, for speech, what was said. Decisions live in the pure modules beside this
one; this one wires them to the SDK.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import math
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession, llm
from livekit.agents.types import NOT_GIVEN
from livekit.agents.voice import (
    AgentStateChangedEvent,
    SpeechCreatedEvent,
    SpeechHandle,
    UserStateChangedEvent,
)

from .. import _status
from .._cue import (
    BUILTIN_KINDS,
    CLOCK_SKEW_S,
    DEFAULT_TOPIC,
    ID_PATTERN,
    LEGACY_TOPIC,
    MAX_ID,
    RPC_METHOD,
    Cue,
    Outcome,
    OutcomeStatus,
    Secret,
    check_clock,
    decode_cue,
    is_legacy,
    utcnow,
)
from .._errors import CueDecodeError, UsageError
from .._signing import SigningKey, as_key, key_from_env
from .events import CueApplied, CueDropped, CueReceived, CueStarted, EventType, Transport
from .framing import context_note, reply_instructions
from .gateway_client import GatewayClient, ReceiptForwarder
from .ledger import CueLedger
from .policy import DEFAULT_RESPONSE_WINDOW_S, Activity, decide, response_wait
from .queue import PendingCues, Turn, TurnLimiter

logger = logging.getLogger("livecue.agent")

CueHandler = Callable[[Cue], "Awaitable[None] | None"]

_STATUS_MARGIN_S = 0.5
"""A status call is answered this long before the caller would give up on it."""

_RECHECK_S = 0.5
"""While cues wait for a busy agent, the queue is looked at again at least this often."""

_LEGACY_WARNING_S = 60.0
"""An ignored seed-style trigger is logged at most this often."""

_REFUSALS_KEPT = 1000
_ID = re.compile(ID_PATTERN)


class CueListener(rtc.EventEmitter[EventType]):
    """Receives cues for one AgentSession. Create it with :func:`attach`.

    Events: ``cue_received`` (:class:`CueReceived`), ``cue_started``
    (:class:`CueStarted`), ``cue_applied`` (:class:`CueApplied`), ``cue_dropped``
    (:class:`CueDropped`).
    """

    def __init__(
        self,
        session: AgentSession[Any],
        room: rtc.Room,
        *,
        key: SigningKey,
        topic: str = DEFAULT_TOPIC,
        accept_legacy: bool = False,
        legacy_topic: str = LEGACY_TOPIC,
        allow_identities: Iterable[str] = (),
        max_turns_per_minute: int = 10,
        dedup_ttl_s: float = 3600.0,
        dedup_max: int = 10_000,
        clock_skew_s: float = CLOCK_SKEW_S,
        clock: Callable[[], datetime] = utcnow,
        gateway_url: str | None = None,
        gateway_key: str | None = None,
        response_window_s: float = DEFAULT_RESPONSE_WINDOW_S,
    ) -> None:
        if not math.isfinite(response_window_s) or response_window_s < 0:
            raise UsageError(
                f"response_window_s: must be a finite number of seconds, 0 or more "
                f"(0 turns the window off), not {response_window_s!r}"
            )
        super().__init__()
        self._session = session
        self._room = room
        self._key = key
        self._topic = topic
        self._legacy_topic = legacy_topic if accept_legacy else None
        self._allowed = frozenset(allow_identities)
        self._clock = clock
        self._clock_skew_s = clock_skew_s
        self._ledger = CueLedger(ttl_s=dedup_ttl_s, max_size=dedup_max)
        self._refused: OrderedDict[str, str] = OrderedDict()  # id -> why a copy was refused
        self._legacy_warned_at = float("-inf")
        self._changed = asyncio.Event()  # set (and replaced) whenever an outcome is recorded
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
        self._receipts: ReceiptForwarder | None = None
        if gateway_url and gateway_key:
            client = GatewayClient(gateway_url, gateway_key)

            def identity() -> str | None:
                return room.local_participant.identity if room.isconnected() else None

            self._receipts = ReceiptForwarder(client, agent=identity, max_tracked=dedup_max)
        elif gateway_url or gateway_key:
            logger.warning("gateway receipts are off: give both gateway_url and gateway_key")
        if accept_legacy:
            logger.warning(
                "unsigned legacy triggers on topic %r are accepted: anyone who can get a packet "
                "to this agent without a sender can make it speak",
                legacy_topic,
            )

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

    def outcome(self, cue_id: str) -> Outcome | None:
        """The latest outcome of a cue this agent received (None if unknown or forgotten)."""
        return self._ledger.get(cue_id)

    def start(self) -> None:
        self._room.on("data_received", self._on_data_received)
        self._room.local_participant.register_rpc_method(RPC_METHOD, self._on_rpc)
        self._room.local_participant.register_rpc_method(_status.STATUS_METHOD, self._on_status_rpc)
        self._session.on("agent_state_changed", self._on_agent_state_changed)
        self._session.on("user_state_changed", self._on_user_state_changed)
        self._session.on("speech_created", self._on_speech_created)
        self._session.on("close", self._on_session_close)
        if self._receipts is not None:
            self._room.on("reconnected", self._on_reconnected)
            self._spawn(self._catch_up("start"))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._changed.set()  # wake waiting status calls
        self._room.off("data_received", self._on_data_received)
        for method in (RPC_METHOD, _status.STATUS_METHOD):
            try:
                self._room.local_participant.unregister_rpc_method(method)
            except Exception:  # the room may already be gone
                logger.debug("could not unregister %s", method, exc_info=True)
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
        if self._receipts is not None:
            self._room.off("reconnected", self._on_reconnected)
            await self._receipts.aclose()

    # -- SDK callbacks: nothing raised here may reach the SDK ------------------

    def _from_trusted(self, sender: str | None) -> bool:
        """The server's packets carry no sender. Neither do those of a hidden participant,
        or of one the agent has not been told about yet (LiveKit announces non-publishing
        participants in batches): so the signature, not this, is what keeps them out."""
        return sender is None or sender in self._allowed

    def _on_data_received(self, packet: rtc.DataPacket) -> None:
        try:
            if self._closed:
                return
            if packet.topic == LEGACY_TOPIC and self._legacy_topic is None:
                self._warn_legacy()
                return
            if packet.topic not in (self._topic, self._legacy_topic):
                return
            sender = packet.participant.identity if packet.participant is not None else None
            if not self._from_trusted(sender):
                logger.warning("ignored a cue-shaped packet from participant %r", sender)
                self._refuse(f"not from the server (sent by {sender!r})")
                return
            legacy_ok = packet.topic == self._legacy_topic
            # the gateway sends on the cue topic; the seed's triggers have no gateway id
            receipt = packet.topic == self._topic
            self._spawn(self._process(packet.data, "data", receipt=receipt, legacy_ok=legacy_ok))
        except Exception:
            logger.exception("error while receiving a data packet")

    def _warn_legacy(self) -> None:
        now = time.monotonic()
        if now - self._legacy_warned_at >= _LEGACY_WARNING_S:
            self._legacy_warned_at = now
            logger.warning(
                "ignored a packet on the seed's topic %r: its unsigned triggers are refused "
                "unless attach(..., accept_legacy=True)",
                LEGACY_TOPIC,
            )

    def _on_reconnected(self) -> None:
        try:
            if not self._closed:
                self._spawn(self._catch_up("reconnect"))
        except Exception:
            logger.exception("error after the room reconnected")

    def _caller_trusted(self, data: rtc.RpcInvocationData) -> bool:
        caller = data.caller_identity
        # LiveKit gives a server-initiated call the request id as caller identity.
        from_server = caller == data.request_id and caller not in self._room.remote_participants
        return from_server or caller in self._allowed

    async def _on_rpc(self, data: rtc.RpcInvocationData) -> str:
        try:
            if not self._caller_trusted(data):
                caller = data.caller_identity
                return self._refuse(f"not from the server (sent by {caller!r})").encode()
            return (await self._process(data.payload.encode(), "rpc")).encode()
        except Exception:
            logger.exception("error while handling a cue over RPC")
            return Outcome(cue_id="?", status="rejected", reason="internal error").encode()

    async def _on_status_rpc(self, data: rtc.RpcInvocationData) -> str:
        """What became of the cues asked about; waits (a long poll) until one changes."""
        try:
            if not self._caller_trusted(data):
                raise rtc.RpcError(rtc.RpcError.ErrorCode.APPLICATION_ERROR, "not from the server")
            try:
                request = _status.decode_request(
                    data.payload, secret=self._key, room=self._room.name
                )
            except CueDecodeError as exc:
                logger.warning("refused a status call: %s", exc.reason)
                raise rtc.RpcError(rtc.RpcError.ErrorCode.APPLICATION_ERROR, exc.reason) from None
            wait_s = min(request.wait_ms / 1000, data.response_timeout - _STATUS_MARGIN_S)
            deadline = time.monotonic() + wait_s
            while True:
                changed = self._changed  # taken before looking, so no change is missed
                answer = _status.changes(
                    request.known,
                    {i: self._ledger.get(i) for i in request.known},
                    refused=self._refused,
                )
                remaining = deadline - time.monotonic()
                if answer.outcomes or answer.unknown or answer.refused or remaining <= 0:
                    return _status.encode_answer(answer)
                if self._closed:
                    return _status.encode_answer(answer)
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(changed.wait(), remaining)
        except rtc.RpcError:
            raise
        except Exception:
            logger.exception("error while answering a status call")
            raise rtc.RpcError(rtc.RpcError.ErrorCode.APPLICATION_ERROR, "internal error") from None

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

    async def _process(
        self, raw: bytes, transport: Transport, *, receipt: bool = False, legacy_ok: bool = False
    ) -> Outcome:
        """Run one cue through the pipeline; ``receipt``: report its outcomes to the gateway."""
        now = self._clock()
        try:
            if legacy_ok and is_legacy(raw):
                cue = decode_cue(raw, now=now)
            else:
                cue = decode_cue(raw, secret=self._key, now=now, room=self._room.name, legacy=False)
            check_clock(cue, now, tolerance_s=self._clock_skew_s)
        except CueDecodeError as exc:
            # not recorded: an id that did not decode (or verify) is not to be trusted. It is
            # kept apart as a hint for the sender's status call (why its cue is unknown here)
            logger.warning("rejected a cue: %s", exc.reason)
            self._note_refusal(raw, exc.reason)
            return self._refuse(exc.reason)
        self._emit("cue_received", CueReceived(cue=cue, transport=transport))

        lives_s = (cue.expires_at - now).total_seconds()
        if self._ledger.check_and_add(cue.id, time.monotonic(), lives_s=lives_s):
            self._emit(
                "cue_dropped",
                CueDropped(
                    outcome=Outcome(
                        cue_id=cue.id, status="duplicate", reason="this cue id was already received"
                    ),
                    cue=cue,
                ),
            )
            # A copy answers with the first arrival's outcome so far: a sender retrying after
            # a lost answer, or a catch-up overlapping the packet, learns what happened.
            first = self._ledger.get(cue.id)
            receipts = self._receipts
            if receipt and first is not None and receipts and not receipts.tracks(cue.id):
                receipts.track(cue.id)
                receipts.forward(first)
            return first or Outcome(cue_id=cue.id, status="duplicate")
        if receipt and self._receipts is not None:
            self._receipts.track(cue.id)
        if cue.is_expired(now):
            return self._settle(cue, "expired", "the cue expired before it arrived")
        if cue.kind not in BUILTIN_KINDS and cue.kind not in self._handlers:
            return self._settle(cue, "rejected", f"no handler for kind {cue.kind!r}")

        decision = decide(cue, self._activity(), queue_empty=len(self._pending) == 0)
        if decision == "skip":
            return self._settle(cue, "skipped", "the agent or the user is talking")
        if self._speaks(cue) and self._limiter.at_limit(time.monotonic()):
            decision = "enqueue"  # the turn limit folds it into a later, merged turn
        if decision == "interrupt_and_act" and not self._interrupt_current():
            decision = "enqueue"
        if decision == "enqueue":
            self._pending.push(cue)
            self._drain_soon()
            return self._settle(cue, "queued")
        return await self._act(Turn((cue,)))

    def _activity(self) -> Activity:
        # the session still names a speech as current for a moment after it is done (its
        # done callback, and ours, run first): only a speech not done counts
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
            if cue.kind in ("reply", "say"):
                if cue.kind == "reply":
                    handle = self._session.generate_reply(
                        instructions=reply_instructions([c.text or "" for c in turn.cues]),
                        allow_interruptions=_given(cue.allow_interruptions),
                    )
                else:
                    handle = self._session.say(
                        cue.text or "", allow_interruptions=_given(cue.allow_interruptions)
                    )
                self._watch(handle, turn)
                for merged in turn.merged:
                    self._settle(merged, "started", merged_into=cue.id)
                return self._settle(cue, "started")
            if cue.kind == "context":
                await self._add_context(cue.text or "")
            elif cue.kind == "interrupt":
                if not self._interrupt_current():
                    return self._settle(cue, "skipped", "the current speech is uninterruptible")
            else:
                result = self._handlers[cue.kind](cue)
                if inspect.isawaitable(result):
                    await result
        except Exception as exc:
            logger.exception("acting on cue %s failed", cue.id)
            for c in turn.cues:
                self._settle(c, "rejected", f"the agent could not act on it: {exc}")
            return self._ledger.get(cue.id) or Outcome(cue_id=cue.id, status="rejected")
        return self._settle(cue, "applied")

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
        """The final receipt of a turn's cues: what was said, when, and whether it was cut."""
        try:
            turn = self._speeches.pop(handle, None)
            if turn is not None:
                said, started, ended = _speech_receipt(handle)
                error = handle.exception()
                if error is not None:
                    status: OutcomeStatus = "interrupted"
                    reason: str | None = f"its speech failed: {error}"
                elif handle.interrupted:
                    status, reason = "interrupted", "its speech was cut off"
                else:
                    status, reason = "applied", None
                for c in turn.cues:
                    merged = c is not turn.leader
                    self._settle(
                        c,
                        "coalesced" if merged and status == "applied" else status,
                        reason,
                        said=said,
                        speech_started_at=started,
                        speech_ended_at=ended,
                        merged_into=turn.leader.id if merged else None,
                    )
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
                    self._settle(cue, "expired", "it expired while waiting")
                if not len(self._pending):
                    break
                activity = self._activity()
                if not activity.idle:
                    # a state change or a finished speech calls us again; should one event
                    # be missed, look again shortly rather than leave cues waiting
                    self._wake_at(time.monotonic() + _RECHECK_S)
                    break
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

    # -- outcomes: the one place they are recorded, reported and announced --------

    def _settle(
        self, cue: Cue, status: OutcomeStatus, reason: str | None = None, **receipt: Any
    ) -> Outcome:
        """Record ``cue``'s new outcome (never over a final one), report it, emit its event."""
        outcome = Outcome(cue_id=cue.id, status=status, reason=reason, **receipt)
        if not self._ledger.record(outcome):
            return self._ledger.get(cue.id) or outcome
        self._changed.set()
        self._changed = asyncio.Event()
        if self._receipts is not None:
            self._receipts.forward(outcome)
        if status == "started":
            self._emit("cue_started", CueStarted(cue=cue, outcome=outcome))
        elif status in ("applied", "coalesced"):
            self._emit("cue_applied", CueApplied(cue=cue, outcome=outcome))
        elif outcome.final:
            self._emit("cue_dropped", CueDropped(outcome=outcome, cue=cue))
        return outcome

    def _note_refusal(self, raw: bytes, reason: str) -> None:
        cue_id = _claimed_id(raw)
        if cue_id is None or cue_id in self._ledger:
            return
        self._refused[cue_id] = reason
        while len(self._refused) > _REFUSALS_KEPT:
            self._refused.popitem(last=False)

    def _refuse(self, reason: str) -> Outcome:
        """A payload that is not a trustworthy cue: answered, logged, never recorded."""
        outcome = Outcome(cue_id="?", status="rejected", reason=reason)
        self._emit("cue_dropped", CueDropped(outcome=outcome, cue=None))
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

    # -- the gateway: catch-up for the data transport -------------------------------

    async def _catch_up(self, why: str) -> None:
        """Fetch the cues the gateway holds for this room and run each as a data packet.

        They are signed like any cue; a cue that also arrives as a packet is a duplicate
        and is acted on once.
        """
        if self._receipts is None or self._closed:
            return
        try:
            room = self._room.name
            cues = await self._receipts.client.pending(room)
            if cues:
                logger.info("caught up on %d cues for room %r (%s)", len(cues), room, why)
            for raw in cues:
                if self._closed:
                    return
                await self._process(raw, "data", receipt=True)
        except Exception:
            logger.exception("catching up with the gateway failed")


def _claimed_id(raw: bytes) -> str | None:
    """The id a refused payload claims, if it has one that looks like a cue id."""
    try:
        payload = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    cue_id = payload.get("id") if isinstance(payload, dict) else None
    if isinstance(cue_id, str) and 0 < len(cue_id) <= MAX_ID and _ID.fullmatch(cue_id):
        return cue_id
    return None


def _speech_receipt(handle: SpeechHandle) -> tuple[str, datetime | None, datetime | None]:
    """What a finished speech said (as far as it got) and when it started and ended."""
    said: list[str] = []
    started: float | None = None
    ended: float | None = None
    for item in handle.chat_items:
        if isinstance(item, llm.ChatMessage) and item.role == "assistant":
            said.append(item.text_content or "")
            metrics = item.metrics
            if started is None and "started_speaking_at" in metrics:
                started = metrics["started_speaking_at"]
            if "stopped_speaking_at" in metrics:
                ended = metrics["stopped_speaking_at"]
    return " ".join(s for s in said if s).strip(), _time(started), _time(ended)


def _time(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=timezone.utc)


def _given(value: bool | None) -> Any:
    return NOT_GIVEN if value is None else value


def _consume_exception(future: asyncio.Future[None]) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.debug("interrupt finished with %r", future.exception())


def attach(
    session: AgentSession[Any],
    room: rtc.Room,
    *,
    secret: Secret | None = None,
    api_key: str | None = None,
    api_secret: str | None = None,
    topic: str = DEFAULT_TOPIC,
    accept_legacy: bool = False,
    legacy_topic: str = LEGACY_TOPIC,
    allow_identities: Iterable[str] = (),
    max_turns_per_minute: int = 10,
    dedup_ttl_s: float = 3600.0,
    clock_skew_s: float = CLOCK_SKEW_S,
    clock: Callable[[], datetime] = utcnow,
    gateway_url: str | None = None,
    gateway_key: str | None = None,
    response_window_s: float = DEFAULT_RESPONSE_WINDOW_S,
) -> CueListener:
    """Serve cues to ``session`` from ``room``. Call after ``session.start()``.

    Every cue must be signed (both transports). The key, by default, is derived from
    the LiveKit API key pair the worker runs with (``LIVEKIT_API_KEY`` and
    ``LIVEKIT_API_SECRET``, or ``api_key``/``api_secret``), the same one livecue's
    senders derive; ``LIVECUE_SECRET`` in the environment or ``secret=`` replaces it.

    - ``accept_legacy``: also act on the seed's unsigned ``{"action": "trigger_reply"}``
      packets on ``legacy_topic``. Off by default: anyone whose packet reaches the agent
      without a sender (the server, but also hidden or not-yet-announced participants)
      could make it speak. A warning is logged when on.
    - ``allow_identities``: participants whose packets and RPC calls count as trusted
      (by default only the server's); their cues must be signed too.
    - ``max_turns_per_minute``: cue-driven agent turns allowed per minute; beyond it,
      waiting replies merge into one turn when the limit frees up.
    - ``clock_skew_s``: a cue created further in the future than this is refused.
    - ``gateway_url`` and ``gateway_key`` (an API key with the ``agent`` scope) of a
      ``livecue serve`` gateway: on start and after every reconnect the agent fetches the
      cues held for its room, and it reports the outcomes of cues that came over the data
      transport as they happen. Optional: the gateway also asks the agent itself.
    - ``response_window_s``: after the agent or the user stops talking, how long a
      ``queue`` cue leaves the floor to the other side before it acts (0 turns it off).
    """
    key = (
        as_key(secret)
        if secret is not None
        else key_from_env(api_key=api_key, api_secret=api_secret)
    )
    listener = CueListener(
        session,
        room,
        key=key,
        topic=topic,
        accept_legacy=accept_legacy,
        legacy_topic=legacy_topic,
        allow_identities=allow_identities,
        max_turns_per_minute=max_turns_per_minute,
        dedup_ttl_s=dedup_ttl_s,
        clock_skew_s=clock_skew_s,
        clock=clock,
        gateway_url=gateway_url,
        gateway_key=gateway_key,
        response_window_s=response_window_s,
    )
    listener.start()
    return listener
