"""What the gateway needs of a sender: ``livecue.CueSender`` is the one in production."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

from ..._cue import Cue
from ..._livekit import RoomSummary
from ..._status import StatusAnswer
from ...sender import SendResult


class Deliverer(Protocol):
    async def deliver(
        self,
        room: str,
        cue: Cue,
        *,
        transport: Literal["data", "rpc"] | None = None,
        agent_name: str | None = None,
        max_attempts: int | None = None,
    ) -> SendResult: ...

    async def status(
        self, room: str, identity: str, known: Mapping[str, str], *, wait_s: float = 0.0
    ) -> StatusAnswer: ...

    async def is_present(self, room: str, identity: str) -> bool: ...

    async def room_has_agent(self, room: str, agent_name: str | None = None) -> bool: ...

    async def resolve_rooms(
        self, *, rooms: Sequence[str] | None = None, room_prefix: str | None = None
    ) -> list[str]: ...

    async def rooms(self) -> list[RoomSummary]: ...

    async def aclose(self) -> None: ...
