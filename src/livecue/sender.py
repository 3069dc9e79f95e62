"""Send cues to agents: one room, or many at once.

::

    async with CueSender.from_env() as sender:
        result = await sender.send("room-123", new_cue("reply", "A donation of $100 arrived"))
        print(result.outcome)  # what the agent did (rpc transport)

Every cue is signed, by default with the key both ends derive from the LiveKit API
secret (see ``livecue._signing``), and bound to the room it is sent to.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from . import _status
from ._backoff import RetryPolicy
from ._cue import DEFAULT_TOPIC, RPC_METHOD, Cue, Outcome, Secret, encode_cue
from ._errors import (
    CueRefused,
    DeliveryError,
    DeliveryTimeout,
    LivecueError,
    NoAgentInRoom,
    RoomNotFound,
    UsageError,
)
from ._livekit import Credentials, LiveKitRooms, RoomSummary
from ._signing import SigningKey, as_key, key_from_env

Transport = Literal["data", "rpc"]
Presence = Literal["agent", "no_agent", "no_room"]

AGENT_CACHE_S = 10.0
"""How long a room's agent identity is reused before ListParticipants is asked again."""

STATUS_WAIT_S = 2.0
"""How long one status call may wait at the agent for a change. Kept under the 3 s after
which livekit-server's internal RPC gives up on a request and sends it again."""


@dataclass(frozen=True)
class SendResult:
    """The fate of one cue in one room."""

    room: str
    cue_id: str
    transport: Transport
    attempts: int
    outcome: Outcome | None = None
    """The agent's answer (rpc, or data with ``wait``); data alone gives no receipt."""
    error: LivecueError | None = None
    """Set only in :meth:`CueSender.broadcast` results, which never raise per room."""
    identity: str | None = None
    """The agent the cue went to (rpc; data sent to one participant)."""

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

    ``secret`` replaces the signing key derived from ``credentials`` (give the agent
    the same one); ``agent_name`` picks the agent to deliver to on both transports.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        transport: Transport = "rpc",
        topic: str = DEFAULT_TOPIC,
        agent_name: str | None = None,
        secret: Secret | None = None,
        rpc_timeout_s: float = 5.0,
        max_attempts: int = 4,
        backoff_base_s: float = 0.25,
        backoff_cap_s: float = 5.0,
        concurrency: int = DEFAULT_CONCURRENCY,
        rng: random.Random | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.transport: Transport = transport
        self.topic = topic
        self.agent_name = agent_name
        self.concurrency = concurrency
        self._key: SigningKey = (
            as_key(secret)
            if secret is not None
            else SigningKey.from_livekit(credentials.api_key, credentials.api_secret)
        )
        self._rpc_timeout_s = rpc_timeout_s
        self._retry = RetryPolicy(
            max_attempts=max_attempts, base_s=backoff_base_s, cap_s=backoff_cap_s
        )
        self._rng = rng or random.Random()
        self._rooms = LiveKitRooms(credentials, max_connections=max(concurrency, 8))
        self._agents: dict[tuple[str, str | None], tuple[list[str], float]] = {}

    @classmethod
    def from_env(cls, **options: object) -> CueSender:
        """Credentials from LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET (or ``.env``);
        ``LIVECUE_SECRET``, if set, signs instead of the key derived from the API secret."""
        credentials = Credentials.from_env()
        if "secret" not in options:
            options["secret"] = key_from_env(
                api_key=credentials.api_key, api_secret=credentials.api_secret
            )
        return cls(credentials, **options)  # type: ignore[arg-type]

    @property
    def signing_key(self) -> SigningKey:
        return self._key

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
        wait: float | None = None,
    ) -> SendResult:
        """Deliver ``cue`` to the agent in ``room``; raise a :class:`DeliveryError` if it fails.

        ``to`` names the receiving participant (default: the room's agent — the one named
        ``agent_name`` if set; on data, every agent in the room, or the named one). ``wait``:
        up to this many seconds more for the cue's final outcome (the agent acted, and what
        it said), asked of the agent with ``livecue.status``. Too large a cue fails before
        any network call.
        """
        chosen = transport or self.transport
        if topic is not None and chosen != "data":
            raise UsageError("topic applies to the data transport only")
        if to is not None and self.agent_name is not None:
            raise UsageError("give to= (an identity) or the sender's agent_name, not both")
        payload = encode_cue(cue, secret=self._key, room=room)
        result = await self._deliver(room, cue.id, payload, chosen, to, topic)
        if result.error is None and wait is not None and wait > 0:
            result = await self._wait_final(result, wait)
        if result.error is not None:
            raise result.error
        return result

    async def deliver(
        self,
        room: str,
        cue: Cue,
        *,
        transport: Transport | None = None,
        agent_name: str | None = None,
        max_attempts: int | None = None,
    ) -> SendResult:
        """Sign and deliver ``cue`` to the room's agent (on data too: to that agent only).

        Unlike :meth:`send` it never raises for a failed delivery: the result's ``error``
        says what went wrong. ``max_attempts=1`` leaves retries to the caller (the gateway
        keeps its retries in its store).
        """
        chosen = transport or self.transport
        payload = encode_cue(cue, secret=self._key, room=room)
        name = agent_name or self.agent_name
        if chosen == "data":
            try:
                identity = await self._agent_identity(room, name)
            except LivecueError as exc:
                return SendResult(room, cue.id, chosen, attempts=1, error=exc)
        else:
            identity = None
        return await self._deliver(
            room, cue.id, payload, chosen, identity, None, name, max_attempts
        )

    async def status(
        self, room: str, identity: str, known: Mapping[str, str], *, wait_s: float = 0.0
    ) -> _status.StatusAnswer:
        """Ask the agent ``identity`` what became of the cues in ``known`` (id → the status
        already known, ``""`` for none). With ``wait_s`` the agent answers as soon as one
        of them changes, or after ``wait_s`` with what it has."""
        wait_ms = int(max(0.0, min(wait_s, STATUS_WAIT_S)) * 1000)
        request = _status.StatusRequest(known=known, wait_ms=wait_ms)
        answer = await self._rooms.perform_rpc(
            room,
            identity,
            _status.encode_request(request, secret=self._key, room=room),
            method=_status.STATUS_METHOD,
            timeout_s=wait_ms / 1000 + 0.8,
        )
        return _status.decode_answer(answer)

    async def is_present(self, room: str, identity: str) -> bool:
        return await self._rooms.is_present(room, identity)

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
        encode_cue(cue, secret=self._key)  # too large: before anything is sent
        targets = await self.resolve_rooms(rooms=rooms, room_prefix=room_prefix)
        chosen = transport or self.transport
        gate = asyncio.Semaphore(self.concurrency)

        async def one(room: str) -> SendResult:
            async with gate:
                payload = encode_cue(cue, secret=self._key, room=room)  # bound to its room
                result = await self._deliver(room, cue.id, payload, chosen, None, None)
            if on_result is not None:
                on_result(result)
            return result

        return list(await asyncio.gather(*(one(r) for r in targets)))

    async def resolve_rooms(
        self, *, rooms: Sequence[str] | None = None, room_prefix: str | None = None
    ) -> list[str]:
        if rooms is not None and room_prefix is not None:
            raise UsageError("give rooms or room_prefix, not both")
        if rooms is not None:
            return list(dict.fromkeys(rooms))
        live = await self._rooms.room_names()
        return sorted(r for r in live if room_prefix is None or r.startswith(room_prefix))

    async def room_has_agent(self, room: str, agent_name: str | None = None) -> bool:
        return await self.presence(room, agent_name) == "agent"

    async def presence(self, room: str, agent_name: str | None = None) -> Presence:
        """Whether ``room`` has an agent (named ``agent_name``), only others, or no room."""
        try:
            await self._rooms.find_agents(room, agent_name or self.agent_name)
        except NoAgentInRoom:
            return "no_agent"
        except RoomNotFound:
            return "no_room"
        return "agent"

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
        attempts = max_attempts or self._retry.max_attempts
        attempt = 0
        while True:
            attempt += 1
            identity = to
            try:
                if transport == "data":
                    # only agents get cues: a participant cannot pick one up to replay it
                    targets = [to] if to else await self._agent_identities(room, self.agent_name)
                    identity = targets[0] if len(targets) == 1 else None
                    await self._rooms.send_data(
                        room, payload, topic=topic or self.topic, destination_identities=targets
                    )
                    return SendResult(room, cue_id, transport, attempt, identity=identity)
                name = agent_name or self.agent_name
                identity = to or await self._agent_identity(room, name)
                outcome = await self._call_agent(room, identity, payload, name)
            except LivecueError as exc:
                if not exc.retryable or attempt >= attempts:
                    return SendResult(
                        room, cue_id, transport, attempt, error=exc, identity=identity
                    )
                await asyncio.sleep(self._retry.delay(attempt - 1, self._rng.random()))
                continue
            error: CueRefused | None = None
            if outcome.status == "rejected":
                error = CueRefused(outcome.reason or "no reason given", room=room)
            return SendResult(room, cue_id, transport, attempt, outcome, error, identity)

    async def _call_agent(
        self, room: str, identity: str, payload: bytes, agent_name: str | None
    ) -> Outcome:
        try:
            answer = await self._rooms.perform_rpc(
                room, identity, payload.decode(), method=RPC_METHOD, timeout_s=self._rpc_timeout_s
            )
        except LivecueError:
            self._agents.pop((room, agent_name), None)  # it may have left: look again next time
            raise
        return Outcome.decode(answer)

    async def _wait_final(self, result: SendResult, wait_s: float) -> SendResult:
        """Ask the agent until the cue's outcome is final or ``wait_s`` is up."""
        identity = result.identity or await self._agent_identity(result.room, self.agent_name)
        outcome = result.outcome
        deadline = time.monotonic() + wait_s
        while outcome is None or not outcome.final:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            known = {result.cue_id: outcome.status if outcome else ""}
            try:
                answer = await self.status(result.room, identity, known, wait_s=remaining)
            except DeliveryError as exc:
                if not exc.retryable:
                    raise
                await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
                continue
            for found in answer.outcomes:
                if found.cue_id == result.cue_id:
                    outcome = found
            if result.cue_id in answer.refused and outcome is None:
                raise CueRefused(answer.refused[result.cue_id], room=result.room)
            if not answer.outcomes:  # nothing new (a packet on its way): do not spin
                await asyncio.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        if outcome is None:
            raise DeliveryTimeout(
                f"the agent {identity!r} has no record of the cue after {wait_s:g} s",
                room=result.room,
            )
        return SendResult(
            result.room,
            result.cue_id,
            result.transport,
            result.attempts,
            outcome,
            CueRefused(outcome.reason or "no reason given", room=result.room)
            if outcome.status == "rejected"
            else None,
            identity,
        )

    async def _agent_identity(self, room: str, agent_name: str | None) -> str:
        """The room's agent (the first, by identity, if several)."""
        return (await self._agent_identities(room, agent_name))[0]

    async def _agent_identities(self, room: str, agent_name: str | None) -> list[str]:
        """The room's agents, remembered for a few seconds: looking them up on every send
        (ListParticipants, and ListRooms when empty) costs more than the send itself."""
        now = time.monotonic()
        cached = self._agents.get((room, agent_name))
        if cached is not None and now - cached[1] < AGENT_CACHE_S:
            return cached[0]
        identities = await self._rooms.find_agents(room, agent_name)
        if len(self._agents) >= 10_000:
            self._agents.clear()
        self._agents[(room, agent_name)] = (identities, now)
        return identities
