"""A voice session per test: the agent speaks with espeak-ng and listens with the silero
VAD; a user talks into a microphone track; a hidden recorder hears them both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from espeak_tts import EspeakTTS
from harness.agent import RunningAgent, start_agent
from harness.livekit_server import LiveKitServer
from harness.recorder import Recorder
from harness.voice import shared_vad, wait_until_hearing
from harness.voice_user import VoiceUser
from livecue import Credentials, CueSender

pytestmark = pytest.mark.voice


@pytest.fixture
def room_name() -> str:
    return f"voice-{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def clips_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The user's speech, generated once per run as WAV files."""
    return tmp_path_factory.mktemp("voice-clips")


@pytest.fixture
async def recorder(livekit_server: LiveKitServer, room_name: str) -> AsyncIterator[Recorder]:
    rec = await Recorder.join(livekit_server, room_name)
    try:
        yield rec
    finally:
        await rec.leave()


@pytest.fixture
async def user(
    livekit_server: LiveKitServer, room_name: str, recorder: Recorder
) -> AsyncIterator[VoiceUser]:
    voice_user = await VoiceUser.join(livekit_server, room_name)
    try:
        yield voice_user
    finally:
        await voice_user.leave()


@pytest.fixture
def agent_options() -> dict[str, object]:
    """Override with parametrize to configure the agent under test."""
    return {}


@pytest.fixture
async def agent(
    livekit_server: LiveKitServer,
    room_name: str,
    user: VoiceUser,
    agent_options: dict[str, object],
) -> AsyncIterator[RunningAgent]:
    running = await start_agent(
        livekit_server,
        room_name,
        tts=EspeakTTS(),
        vad=shared_vad(),
        **agent_options,  # type: ignore[arg-type]
    )
    try:
        await wait_until_hearing(running)
        yield running
    finally:
        await running.stop()


@pytest.fixture
async def sender(credentials: Credentials) -> AsyncIterator[CueSender]:
    async with CueSender(credentials) as s:
        yield s
