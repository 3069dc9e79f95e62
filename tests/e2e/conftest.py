"""A real AgentSession per test, in its own room of the session's livekit-server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from harness.agent import RunningAgent, start_agent
from harness.livekit_server import LiveKitServer
from harness.observer import Observer
from livecue import Credentials, CueSender

pytestmark = pytest.mark.e2e


@pytest.fixture
def room_name() -> str:
    return f"e2e-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def observer(livekit_server: LiveKitServer, room_name: str) -> AsyncIterator[Observer]:
    obs = await Observer.join(livekit_server, room_name)
    try:
        yield obs
    finally:
        await obs.leave()


@pytest.fixture
def agent_options() -> dict[str, object]:
    """Override in a module or with parametrize to configure the agent under test."""
    return {}


@pytest.fixture
async def agent(
    livekit_server: LiveKitServer,
    room_name: str,
    observer: Observer,
    agent_options: dict[str, object],
) -> AsyncIterator[RunningAgent]:
    running = await start_agent(livekit_server, room_name, **agent_options)  # type: ignore[arg-type]
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def sender(credentials: Credentials) -> AsyncIterator[CueSender]:
    async with CueSender(credentials) as s:
        yield s
