"""``RoomService.PerformRpc``, which livekit-api does not wrap.

The server implements it (v1.13+): it calls a method registered by one
participant and returns that participant's answer. We build the Twirp call from
livekit-api's own pieces — its Twirp client, access token and protocol
messages — so authentication and wire format match the rest of the SDK.
"""

from __future__ import annotations

import aiohttp
from livekit.api import AccessToken, VideoGrants
from livekit.api.twirp_client import TwirpClient
from livekit.protocol.room import PerformRpcRequest, PerformRpcResponse


class PerformRpc:
    def __init__(
        self, session: aiohttp.ClientSession, url: str, api_key: str, api_secret: str
    ) -> None:
        # failover only applies to LiveKit Cloud hosts; retries are the sender's job.
        self._client = TwirpClient(session, url, "livekit", failover=False)
        self._api_key = api_key
        self._api_secret = api_secret

    async def __call__(
        self, *, room: str, identity: str, method: str, payload: str, timeout_s: float
    ) -> str:
        token = (
            AccessToken(self._api_key, self._api_secret)
            .with_grants(VideoGrants(room_admin=True, room=room))
            .to_jwt()
        )
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
            {"authorization": f"Bearer {token}"},
            PerformRpcResponse,
            # the server waits up to timeout_s for the agent; give the HTTP call slack
            timeout=aiohttp.ClientTimeout(total=timeout_s + 5.0),
        )
        return response.payload
