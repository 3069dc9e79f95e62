"""Join rooms of a local LiveKit server as real participants."""

from __future__ import annotations

import asyncio
import contextlib

from livekit import api, rtc

from harness.livekit_server import LiveKitServer
from livecue import Credentials, DeliveryError
from livecue._livekit import LiveKitRooms

# Two WebRTC options for many participants on one machine:
# - gather ICE candidates once: by default every new connection in a process makes all
#   earlier ones gather again, so sockets and threads grow with the square of the rooms
#   (200 rooms hit the open-files limit);
# - a STUN server given as an IP literal, so no connection resolves public STUN host
#   names, which in a closed network parks a thread per lookup.
LOOPBACK_OPTIONS = rtc.RoomOptions(
    rtc_config=rtc.RtcConfiguration(
        continual_gathering_policy=rtc.ContinualGatheringPolicy.GATHER_ONCE,
        ice_servers=[rtc.IceServer(urls=["stun:127.0.0.1:9"])],
    )
)

READY_METHOD = "livecue.test.ready"
READY_TOPIC = "livecue.test.ready"


def token(
    server: LiveKitServer,
    room: str,
    identity: str,
    *,
    kind: str | None = None,
    hidden: bool = False,
    attributes: dict[str, str] | None = None,
) -> str:
    grants = api.VideoGrants(room_join=True, room=room, hidden=hidden)
    tok = api.AccessToken(server.api_key, server.api_secret).with_identity(identity)
    tok = tok.with_grants(grants)
    if kind is not None:
        tok = tok.with_kind(kind)  # type: ignore[arg-type]
    if attributes:
        tok = tok.with_attributes(attributes)
    return tok.to_jwt()


async def join(
    server: LiveKitServer,
    room: str,
    identity: str,
    *,
    kind: str | None = None,
    hidden: bool = False,
    attributes: dict[str, str] | None = None,
    room_obj: rtc.Room | None = None,
) -> rtc.Room:
    """Connect ``identity`` to ``room`` (created on join); ``kind="agent"`` joins as an agent."""
    r = room_obj or rtc.Room()
    jwt = token(server, room, identity, kind=kind, hidden=hidden, attributes=attributes)
    await r.connect(server.url, jwt, LOOPBACK_OPTIONS)
    return r


async def wait_until_reachable(
    server: LiveKitServer, r: rtc.Room, room: str, identity: str, timeout: float = 10.0
) -> None:
    """Probe ``identity`` over RPC and data until both reach it.

    ``connect()`` returns before a participant's data channels are open: right
    after it, livekit-server answers PerformRpc with 500 "data channel is not
    available" and silently drops SendData packets (more often under load).
    """
    got_data = asyncio.Event()

    def on_data(packet: rtc.DataPacket) -> None:
        if packet.topic == READY_TOPIC:
            got_data.set()

    r.on("data_received", on_data)
    r.local_participant.register_rpc_method(READY_METHOD, lambda _: "ready")
    probe = LiveKitRooms(Credentials(server.url, server.api_key, server.api_secret))

    async def rpc_reaches() -> None:
        while True:
            try:
                await probe.perform_rpc(room, identity, "", method=READY_METHOD, timeout_s=1)
                return
            except DeliveryError as exc:
                if not exc.retryable:
                    raise
            await asyncio.sleep(0.02)

    async def data_reaches() -> None:
        while not got_data.is_set():
            await probe.send_data(
                room, b"ready", topic=READY_TOPIC, destination_identities=[identity]
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(got_data.wait(), 0.2)

    try:
        await asyncio.wait_for(asyncio.gather(rpc_reaches(), data_reaches()), timeout)
    finally:
        r.off("data_received", on_data)
        r.local_participant.unregister_rpc_method(READY_METHOD)
        await probe.aclose()
