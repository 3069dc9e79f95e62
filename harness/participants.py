"""Join rooms of a local LiveKit server as real participants."""

from __future__ import annotations

from livekit import api, rtc

from harness.livekit_server import LiveKitServer


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
    await r.connect(server.url, jwt)
    return r
