"""``RoomService.PerformRpc``, which livekit-api does not wrap.

The server implements it (v1.13+): it calls a method registered by one
participant and returns that participant's answer. We build the Twirp call from
livekit-api's own pieces — its Twirp client, access tokens (signed by
:class:`RoomTokens`) and protocol messages — so authentication and wire format
match the rest of the SDK.
"""

from __future__ import annotations

import time

import aiohttp
from livekit.api.twirp_client import TwirpClient
from livekit.protocol.room import PerformRpcRequest, PerformRpcResponse

from ._tokens import RoomTokens


class PerformRpc:
    def __init__(self, client: TwirpClient, tokens: RoomTokens) -> None:
        self._client = client
        self._tokens = tokens

    async def __call__(
        self, *, room: str, identity: str, method: str, payload: str, timeout_s: float
    ) -> str:
        request = PerformRpcRequest(
            room=room,
            destination_identity=identity,
            method=method,
            payload=payload,
            response_timeout_ms=int(timeout_s * 1000),
        )
        response = await self._client.request(
            "RoomService",
            "PerformRpc",
            request,
            self._tokens.header(room, time.monotonic()),
            PerformRpcResponse,
            # the server waits up to timeout_s for the agent; give the HTTP call slack
            timeout=aiohttp.ClientTimeout(total=timeout_s + 5.0),
        )
        return response.payload
