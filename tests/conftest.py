"""Fixtures shared by every test layer: a real livekit-server and PostgreSQL, on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.livekit_server import LiveKitServer
from harness.postgres import PostgresServer
from livecue import Credentials


@pytest.fixture(scope="session")
def livekit_server() -> Iterator[LiveKitServer]:
    """One real livekit-server for the session, on ports of its own, stopped at the end."""
    server = LiveKitServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def credentials(livekit_server: LiveKitServer) -> Credentials:
    return Credentials(livekit_server.url, livekit_server.api_key, livekit_server.api_secret)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One throwaway PostgreSQL cluster for the session (initdb + pg_ctl, a loopback port);
    each test that needs a database makes a fresh one in it."""
    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()
