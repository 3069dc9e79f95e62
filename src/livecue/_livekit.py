"""The only module that talks to LiveKit's server API.

It owns one aiohttp session and one ``LiveKitAPI`` for its lifetime (the seed
opened a client per trigger), and turns every foreign error into livecue's
tree, keeping the original as ``__cause__``.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import aiohttp
from livekit import api
from livekit.api.twirp_client import TwirpClient

from ._env import environment
from ._errors import (
    AgentNotListening,
    ConfigError,
    CueRefused,
    DeliveryError,
    DeliveryTimeout,
    LiveKitUnreachable,
    NoAgentInRoom,
    RoomNotFound,
    Unauthorized,
)
from ._perform_rpc import PerformRpc
from ._tokens import RoomTokens

AGENT_NAME_ATTRIBUTE = "lk.agent.name"  # set by livekit-agents on its participant
_RPC_ERROR = re.compile(r"RpcError (\d{4})(?:[:\s]+(.*))?", re.DOTALL)


@dataclass(frozen=True)
class Credentials:
    url: str
    api_key: str
    api_secret: str

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(url={self.url!r}, api_key={self.api_key!r}, api_secret='***')"

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, dotenv: str | Path | None = ".env"
    ) -> Credentials:
        """LiveKit's own variable names; the environment wins over a ``.env`` file."""
        values = environment(env, dotenv)
        missing = [
            name
            for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET")
            if not values.get(name)
        ]
        if missing:
            raise ConfigError(
                f"{', '.join(missing)} not set (put it in the environment or a .env file)"
            )
        return cls(
            url=str(values["LIVEKIT_URL"]),
            api_key=str(values["LIVEKIT_API_KEY"]),
            api_secret=str(values["LIVEKIT_API_SECRET"]),
        )


@dataclass(frozen=True)
class Participant:
    identity: str
    is_agent: bool
    agent_name: str | None


@dataclass(frozen=True)
class RoomSummary:
    name: str
    num_participants: int
    agents: tuple[str, ...]


@dataclass(frozen=True)
class _Clients:
    session: aiohttp.ClientSession
    livekit: api.LiveKitAPI
    twirp: TwirpClient
    rpc: PerformRpc


class LiveKitRooms:
    """Room operations livecue needs, over one shared HTTP session."""

    def __init__(
        self,
        credentials: Credentials,
        *,
        timeout_s: float = 10.0,
        max_connections: int = 100,
    ) -> None:
        self.credentials = credentials
        self._timeout_s = timeout_s
        self._max_connections = max_connections
        # SendData, ListParticipants and PerformRpc go straight to the Twirp client with a
        # token per room reused for minutes; livekit-api signs one per request.
        self._tokens = RoomTokens(credentials.api_key, credentials.api_secret)
        # made on first use: an HTTP session belongs to the running event loop
        self._clients: _Clients | None = None

    def _open(self) -> _Clients:
        if self._clients is None:
            session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                connector=aiohttp.TCPConnector(limit=self._max_connections),
            )
            creds = self.credentials
            livekit = api.LiveKitAPI(
                creds.url, creds.api_key, creds.api_secret, session=session, failover=False
            )
            # failover only applies to LiveKit Cloud hosts; retries are the sender's job
            twirp = TwirpClient(session, creds.url, "livekit", failover=False)
            self._clients = _Clients(session, livekit, twirp, PerformRpc(twirp, self._tokens))
        return self._clients

    @property
    def _api(self) -> api.LiveKitAPI:
        return self._open().livekit

    @property
    def _twirp(self) -> TwirpClient:
        return self._open().twirp

    @property
    def _rpc(self) -> PerformRpc:
        return self._open().rpc

    async def aclose(self) -> None:
        if self._clients is not None:
            clients, self._clients = self._clients, None
            await clients.livekit.aclose()
            await clients.session.close()

    async def send_data(
        self, room: str, payload: bytes, *, topic: str, destination_identities: list[str]
    ) -> None:
        request = api.SendDataRequest(
            room=room,
            data=payload,
            kind=api.DataPacket.Kind.RELIABLE,
            topic=topic,
            destination_identities=destination_identities,
            nonce=uuid.uuid4().bytes,  # as livekit-api's send_data sets it
        )
        try:
            await self._twirp.request(
                "RoomService",
                "SendData",
                request,
                self._tokens.header(room, time.monotonic()),
                api.SendDataResponse,
            )
        except Exception as exc:
            await self._raise_translated(exc, room)

    async def perform_rpc(
        self, room: str, identity: str, payload: str, *, method: str, timeout_s: float
    ) -> str:
        try:
            return await self._rpc(
                room=room, identity=identity, method=method, payload=payload, timeout_s=timeout_s
            )
        except Exception as exc:
            await self._raise_translated(exc, room, identity=identity)

    async def participants(self, room: str) -> list[Participant]:
        try:
            response = await self._twirp.request(
                "RoomService",
                "ListParticipants",
                api.ListParticipantsRequest(room=room),
                self._tokens.header(room, time.monotonic()),
                api.ListParticipantsResponse,
            )
        except Exception as exc:
            await self._raise_translated(exc, room)
        return [
            Participant(
                identity=p.identity,
                is_agent=p.kind == api.ParticipantInfo.Kind.AGENT,
                agent_name=p.attributes.get(AGENT_NAME_ATTRIBUTE) or None,
            )
            for p in response.participants
        ]

    async def find_agents(self, room: str, agent_name: str | None = None) -> list[str]:
        """Identities of the agents in ``room`` (named ``agent_name``, if given), sorted.

        Raises :class:`NoAgentInRoom` or :class:`RoomNotFound` rather than return none.
        """
        agents = sorted(
            p.identity
            for p in await self.participants(room)
            if p.is_agent and (agent_name is None or p.agent_name == agent_name)
        )
        if agents:
            return agents
        # ListParticipants answers an empty list for a room that does not exist.
        if not await self.room_exists(room):
            raise RoomNotFound(room)
        raise NoAgentInRoom(room, agent_name)

    async def is_present(self, room: str, identity: str) -> bool:
        """Whether ``identity`` is in ``room`` now (False for a room that is gone)."""
        return any(p.identity == identity for p in await self.participants(room))

    async def room_names(self, names: list[str] | None = None) -> list[str]:
        try:
            response = await self._api.room.list_rooms(api.ListRoomsRequest(names=names or []))
        except Exception as exc:
            await self._raise_translated(exc, None)
        return [r.name for r in response.rooms]

    async def room_exists(self, room: str) -> bool:
        return room in await self.room_names([room])

    async def rooms(self) -> list[RoomSummary]:
        """Live rooms with the agents present in each, listed concurrently."""
        names = await self.room_names()
        groups = await asyncio.gather(*(self.participants(n) for n in names))
        return [
            RoomSummary(
                name=name,
                num_participants=len(people),
                agents=tuple(sorted(p.identity for p in people if p.is_agent)),
            )
            for name, people in zip(names, groups, strict=True)
        ]

    async def _raise_translated(
        self, exc: Exception, room: str | None, *, identity: str | None = None
    ) -> NoReturn:
        """Re-raise ``exc`` as livecue's error. Errors of ours pass through."""
        if isinstance(exc, DeliveryError):
            raise exc
        if isinstance(exc, api.ServerError):
            if exc.status in (401, 403):
                raise Unauthorized(exc.message, room=room) from exc
            rpc = _RPC_ERROR.search(exc.message)
            if rpc is not None:
                detail = (rpc.group(2) or "").strip()
                raise _rpc_error(int(rpc.group(1)), room, identity, detail) from exc
            if exc.code == api.ServerErrorCode.NOT_FOUND:
                raise RoomNotFound(room or "?") from exc
            if exc.code == api.ServerErrorCode.DEADLINE_EXCEEDED or exc.status == 504:
                raise DeliveryTimeout("LiveKit did not answer in time", room=room) from exc
            if exc.status >= 500:
                # A single-node server answers "no response from servers" for a room it
                # does not host; only a second look tells that apart from an outage.
                if room is not None and not await self._room_exists_quietly(room):
                    raise RoomNotFound(room) from exc
                if identity is not None:
                    # e.g. "data channel is not available" while the agent's connection
                    # is still opening, or it just left: worth another try.
                    error = DeliveryError(
                        f"the agent {identity!r} could not be reached ({exc.message})", room=room
                    )
                    error.retryable = True
                    raise error from exc
                raise LiveKitUnreachable(
                    f"LiveKit answered {exc.status} ({exc.message or exc.code})", room=room
                ) from exc
            raise DeliveryError(f"LiveKit refused the request: {exc.message}", room=room) from exc
        if isinstance(exc, asyncio.TimeoutError):
            raise DeliveryTimeout("LiveKit did not answer in time", room=room) from exc
        if isinstance(exc, aiohttp.ClientError):
            raise LiveKitUnreachable(
                f"cannot reach LiveKit at {self.credentials.url} ({exc})", room=room
            ) from exc
        raise exc

    async def _room_exists_quietly(self, room: str) -> bool:
        try:
            return await self.room_exists(room)
        except DeliveryError:
            return True  # cannot tell; do not claim the room is missing


def _rpc_error(
    code: int, room: str | None, identity: str | None, detail: str = ""
) -> DeliveryError:
    # LiveKit's RPC error codes (rtc RpcError.ErrorCode).
    if code in (1501, 1502):
        return DeliveryTimeout(f"the agent {identity!r} did not answer in time", room=room)
    if code == 1401:
        return NoAgentInRoom(room or "?")
    if code == 1400:
        return AgentNotListening(room, identity)
    if code == 1500 and detail:  # the agent's own words (a refused status call, say)
        return CueRefused(detail, room=room)
    error = DeliveryError(f"RPC to the agent {identity!r} failed (code {code})", room=room)
    error.retryable = code in (1503, 1505)  # recipient disconnected, send failed
    return error
