"""Send cues to agents: one room, or many at once.

::

    async with CueSender.from_env() as sender:
        result = await sender.send("room-123", new_cue("reply", "A donation of $100 arrived"))
        print(result.outcome)  # what the agent did (rpc transport)
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from ._backoff import backoff_delay
from ._cue import DEFAULT_TOPIC, RPC_METHOD, Cue, Outcome, encode_cue
from ._errors import CueRefused, LivecueError, NoAgentInRoom, RoomNotFound
from ._livekit import Credentials, LiveKitRooms, RoomSummary

Transport = Literal["data", "rpc"]

AGENT_CACHE_S = 10.0
"""How long a room's agent identity is reused before ListParticipants is asked again."""


@dataclass(frozen=True)
class SendResult:
    """The fate of one cue in one room."""

    room: str
    cue_id: str
    transport: Transport
    attempts: int
    outcome: Outcome | None = None
    """The agent's answer (rpc transport only; data gives no receipt)."""
    error: LivecueError | None = None
    """Set only in :meth:`CueSender.broadcast` results, which never raise per room."""

    @property
    def ok(self) -> bool:
        return self.error is None


DEFAULT_CONCURRENCY = 64
"""Sends in flight at once in :meth:`CueSender.broadcast`.

With a hosted LiveKit every send costs a round trip. At 50 ms (``python -m bench
fanout_wan --sweep``), 200 rooms took 0.60 s with 32 in flight, 0.31 s with 64 and
0.30 s with 128 (the seed's loop: 11.2 s). 64 reaches most of the gain while the
server sees at most 64 connections and requests at once from one sender.
"""


class CueSender:
    """Delivers cues through one shared LiveKit API client.

    Retryable failures (LiveKit unreachable, timeouts) are retried with
    exponential backoff and full jitter; the cue id stays the same, so the
    agent's dedup makes a retry that did arrive the first time harmless.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        transport: Transport = "rpc",
        topic: str = DEFAULT_TOPIC,
        agent_name: str | None = None,
        secret: str | bytes | None = None,
        rpc_timeout_s: float = 5.0,
        max_attempts: int = 4,
        backoff_base_s: float = 0.25,
        backoff_cap_s: float = 5.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        rng: random.Random | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.transport: Transport = transport
        self.topic = topic
        self.agent_name = agent_name
        self.concurrency = concurrency
        self._secret = secret
        self._rpc_timeout_s = rpc_timeout_s
        self._max_attempts = max_attempts
        self._backoff = (backoff_base_s, backoff_cap_s)
        self._rng = rng or random.Random()
        self._rooms = LiveKitRooms(credentials, max_connections=max(concurrency, 8))
        self._agents: dict[tuple[str, str | None], tuple[str, float]] = {}

    @classmethod
    def from_env(cls, **options: object) -> CueSender:
        """Credentials from LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET (or ``.env``)."""
        return cls(Credentials.from_env(), **options)  # type: ignore[arg-type]

    async def __aenter__(self) -> CueSender:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._rooms.aclose()

    async def send(
        self,
        room: str,
        cue: Cue,
        *,
        transport: Transport | None = None,
        to: str | None = None,
        topic: str | None = None,
    ) -> SendResult:
        """Deliver ``cue`` to the agent in ``room``; raise a :class:`DeliveryError` if it fails.

        ``to`` names the receiving participant (default: the room's agent for rpc,
        everyone for data). Too large a cue fails before any network call.
        """
        payload = encode_cue(cue, secret=self._secret)
        result = await self._deliver(room, cue.id, payload, transport or self.transport, to, topic)
        if result.error is not None:
            raise result.error
        return result

    async def send_payload(
        self,
        room: str,
        cue_id: str,
        payload: bytes,
        *,
        transport: Transport | None = None,
        agent_name: str | None = None,
        max_attempts: int | None = None,
    ) -> SendResult:
        """Deliver cue bytes encoded earlier (by a store that keeps the envelope).

        Unlike :meth:`send` it never raises for a failed delivery: the result's
        ``error`` says what went wrong. ``max_attempts=1`` leaves retries to the caller.
        """
        return await self._deliver(
            room,
            cue_id,
            payload,
            transport or self.transport,
            None,
            None,
            agent_name=agent_name,
            max_attempts=max_attempts,
        )

    async def broadcast(
        self,
        cue: Cue,
        *,
        rooms: Sequence[str] | None = None,
        room_prefix: str | None = None,
        transport: Transport | None = None,
        on_result: Callable[[SendResult], None] | None = None,
    ) -> list[SendResult]:
        """Send ``cue`` to ``rooms``, to live rooms named ``room_prefix``…, or to all live rooms.

        At most ``concurrency`` sends run at once. Never raises for one room:
        each result carries its own ``error``. ``on_result`` is called as each
        room finishes (for progress display).
        """
        payload = encode_cue(cue, secret=self._secret)
        targets = await self.resolve_rooms(rooms=rooms, room_prefix=room_prefix)
        chosen = transport or self.transport
        gate = asyncio.Semaphore(self.concurrency)

        async def one(room: str) -> SendResult:
            async with gate:
                result = await self._deliver(room, cue.id, payload, chosen, None, None)
            if on_result is not None:
                on_result(result)
            return result

        return list(await asyncio.gather(*(one(r) for r in targets)))

    async def resolve_rooms(
        self, *, rooms: Sequence[str] | None = None, room_prefix: str | None = None
    ) -> list[str]:
        if rooms is not None and room_prefix is not None:
            raise ValueError("give rooms or room_prefix, not both")
        if rooms is not None:
            return list(dict.fromkeys(rooms))
        live = await self._rooms.room_names()
        return sorted(r for r in live if room_prefix is None or r.startswith(room_prefix))

    async def room_has_agent(self, room: str, agent_name: str | None = None) -> bool:
        try:
            await self._rooms.find_agent(room, agent_name or self.agent_name)
        except (NoAgentInRoom, RoomNotFound):
            return False
        return True

    async def rooms(self) -> list[RoomSummary]:
        """Live rooms and the agents present in each."""
        return await self._rooms.rooms()

    async def _deliver(
        self,
        room: str,
        cue_id: str,
        payload: bytes,
        transport: Transport,
        to: str | None,
        topic: str | None,
        agent_name: str | None = None,
        max_attempts: int | None = None,
    ) -> SendResult:
        """Deliver with retries. A failure is the result's ``error``, never raised, so the
        result still tells how many attempts were made."""
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = await self._attempt(room, payload, transport, to, topic, agent_name)
            except LivecueError as exc:
                if not exc.retryable or attempt >= (max_attempts or self._max_attempts):
                    return SendResult(room, cue_id, transport, attempts=attempt, error=exc)
                base, cap = self._backoff
                delay = backoff_delay(
                    attempt - 1, jitter=self._rng.random(), base_s=base, cap_s=cap
                )
                await asyncio.sleep(delay)
                continue
            error: CueRefused | None = None
            if outcome is not None and outcome.status == "rejected":
                error = CueRefused(outcome.reason or "no reason given", room=room)
            return SendResult(room, cue_id, transport, attempt, outcome=outcome, error=error)

    async def _attempt(
        self,
        room: str,
        payload: bytes,
        transport: Transport,
        to: str | None,
        topic: str | None,
        agent_name: str | None = None,
    ) -> Outcome | None:
        if transport == "data":
            await self._rooms.send_data(
                room, payload, topic=topic or self.topic, destination_identities=[to] if to else []
            )
            return None
        name = agent_name or self.agent_name
        identity = to or await self._agent_identity(room, name)
        try:
            answer = await self._rooms.perform_rpc(
                room, identity, payload.decode(), method=RPC_METHOD, timeout_s=self._rpc_timeout_s
            )
        except LivecueError:
            self._agents.pop((room, name), None)  # it may have left: look again next time
            raise
        return Outcome.decode(answer)

    async def _agent_identity(self, room: str, agent_name: str | None) -> str:
        """The room's agent, remembered for a few seconds: looking it up on every send
        (ListParticipants, and ListRooms when empty) costs more than the send itself."""
        now = time.monotonic()
        cached = self._agents.get((room, agent_name))
        if cached is not None and now - cached[1] < AGENT_CACHE_S:
            return cached[0]
        identity = await self._rooms.find_agent(room, agent_name)
        if len(self._agents) >= 10_000:
            self._agents.clear()
        self._agents[(room, agent_name)] = (identity, now)
        return identity
