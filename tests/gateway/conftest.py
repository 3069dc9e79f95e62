"""Fixtures for the gateway tests: real livekit-server + real `livecue serve` processes.

Each livekit-server here is started with its webhooks pointing at the gateway under test, so
LiveKit's ``participant_joined`` really reaches ``/livekit/webhook``. Everything started is stopped
in ``finally``.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gwkit import BACKENDS, DONATION_SECRET, EXAMPLES, Stack, database, make_stack, room_name

from harness.gateway import GatewayProcess
from harness.postgres import PostgresServer


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each gateway test module runs once on SQLite and once on PostgreSQL."""
    return str(request.param)


@pytest.fixture(scope="module")
def db(backend: str, request: pytest.FixtureRequest) -> str:
    """A fresh database of the module's backend (the PostgreSQL cluster starts on first use)."""
    postgres: PostgresServer | None = (
        request.getfixturevalue("postgres") if backend == "postgres" else None
    )
    return database(backend, postgres)


@pytest.fixture(scope="module")
def api_stack(db: str) -> Iterator[Stack]:
    """livekit-server + a gateway with default limits and the example donations hook."""
    stack = make_stack(
        config=EXAMPLES / "donations.yaml",
        env={"DONATION_WEBHOOK_SECRET": DONATION_SECRET},
        db=db,
    )
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture(scope="module")
def limits_gateway(
    api_stack: Stack, backend: str, request: pytest.FixtureRequest
) -> Iterator[Stack]:
    """A second gateway on the same livekit-server with low body and rate limits."""
    postgres = request.getfixturevalue("postgres") if backend == "postgres" else None
    gateway = GatewayProcess(
        api_stack.livekit,
        db=database(backend, postgres),
        env_extra={
            "LIVECUE_MAX_BODY_BYTES": "2048",
            "LIVECUE_RATE_PER_ROOM": "1",  # burst 2
            "LIVECUE_RATE_PER_KEY": "3",  # burst 6
        },
    )
    try:
        stack = Stack(api_stack.livekit, gateway, admin_key=gateway.create_key("admin"))
        gateway.start()
        yield stack
    finally:
        gateway.close()


@pytest.fixture
def room() -> str:
    return room_name()
