"""The gateway's data transport, end to end: the agent's receipts and its catch-up on start.

Real processes throughout: a livekit-server, `livecue serve`, an observer reading the agent's
transcript, and a real AgentSession attached with ``gateway_url`` / ``gateway_key``.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from harness.agent import RunningAgent, start_agent
from harness.gateway import GatewayProcess
from harness.livekit_server import LiveKitServer, free_port
from harness.observer import Observer
from livecue import Credentials, CueSender, new_cue

pytestmark = pytest.mark.e2e


@dataclass
class Gateway:
    process: GatewayProcess
    send_key: str
    read_key: str
    agent_key: str

    @property
    def url(self) -> str:
        return self.process.url


def _start_gateway(livekit: LiveKitServer, port: int, env: dict[str, str]) -> Gateway:
    process = GatewayProcess(livekit, port=port, env_extra=env)
    try:
        gateway = Gateway(
            process,
            send_key=process.create_key("send"),
            read_key=process.create_key("read"),
            agent_key=process.create_key("agent"),
        )
        process.start()
    except BaseException:
        process.close()
        raise
    return gateway


@pytest.fixture(scope="module")
def hooked() -> Iterator[tuple[LiveKitServer, Gateway]]:
    """A livekit-server whose webhooks reach a gateway, as in production."""
    port = free_port()
    livekit = LiveKitServer(webhook_urls=[f"http://127.0.0.1:{port}/livekit/webhook"]).start()
    try:
        gateway = _start_gateway(livekit, port, {})
        try:
            yield livekit, gateway
        finally:
            gateway.process.close()
    finally:
        livekit.stop()


@pytest.fixture
def unhooked(livekit_server: LiveKitServer) -> Iterator[Gateway]:
    """A gateway LiveKit sends no webhooks to, checking held rooms only once a minute:
    nothing but the agent's own catch-up can get a held cue to it during a test."""
    gateway = _start_gateway(livekit_server, free_port(), {"LIVECUE_HELD_CHECK_S": "60"})
    try:
        yield gateway
    finally:
        gateway.process.close()


@pytest.fixture
def room() -> str:
    return f"gw-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


@pytest.fixture
async def stack() -> AsyncIterator[list[Callable[[], Awaitable[None]]]]:
    """Things to stop at the end of a test, last started first."""
    closers: list[Callable[[], Awaitable[None]]] = []
    try:
        yield closers
    finally:
        for close in reversed(closers):
            try:
                await close()
            except Exception:
                logging.getLogger(__name__).exception("cleanup failed")


async def _observe(
    livekit: LiveKitServer, room: str, stack: list[Callable[[], Awaitable[None]]]
) -> Observer:
    observer = await Observer.join(livekit, room)  # before the agent: it links to "user"
    stack.append(observer.leave)
    return observer


async def _agent(
    livekit: LiveKitServer, room: str, stack: list[Callable[[], Awaitable[None]]], **options: Any
) -> RunningAgent:
    agent = await start_agent(livekit, room, **options)
    stack.append(agent.stop)
    return agent


async def _post_cue(http: httpx.AsyncClient, gateway: Gateway, room: str, text: str) -> str:
    resp = await http.post(
        f"{gateway.url}/v1/rooms/{room}/cues",
        json={"kind": "say", "text": text, "transport": "data"},
        headers={"Authorization": f"Bearer {gateway.send_key}"},
    )
    assert resp.status_code == 202, resp.text
    cue_id = resp.json()["id"]
    assert isinstance(cue_id, str)
    return cue_id


async def _cue_status(http: httpx.AsyncClient, gateway: Gateway, cue_id: str) -> dict[str, Any]:
    resp = await http.get(
        f"{gateway.url}/v1/cues/{cue_id}",
        headers={"Authorization": f"Bearer {gateway.read_key}"},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert isinstance(body, dict)
    return body


async def _wait_status(
    http: httpx.AsyncClient,
    gateway: Gateway,
    cue_id: str,
    done: Callable[[dict[str, Any]], bool],
    timeout: float = 15.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        status = await _cue_status(http, gateway, cue_id)
        if done(status):
            return status
        if time.monotonic() > deadline:
            raise AssertionError(
                f"cue {cue_id} never got there: {status}\n{gateway.process.log_tail()}"
            )
        await asyncio.sleep(0.1)


async def _until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def _applied(status: dict[str, Any]) -> bool:
    return bool(status["outcome"] == "applied")


async def test_data_cue_gets_the_agents_receipt(
    hooked: tuple[LiveKitServer, Gateway],
    room: str,
    http: httpx.AsyncClient,
    stack: list[Callable[[], Awaitable[None]]],
) -> None:
    livekit, gateway = hooked
    observer = await _observe(livekit, room, stack)
    agent = await _agent(
        livekit, room, stack, gateway_url=gateway.url, gateway_key=gateway.agent_key
    )

    text = "Your order has shipped."
    cue_id = await _post_cue(http, gateway, room, text)

    await observer.wait_for_text(text, timeout=15)
    status = await _wait_status(http, gateway, cue_id, _applied)

    assert status["status"] == "delivered"
    assert status["transport"] == "data"
    # a data packet has no answer: "applied" can only be the agent's receipt, with its words
    assert status["history"][-1]["outcome"] == "applied"
    assert status["receipt"]["said"] == text
    assert status["agent"] == "agent"
    assert agent.outcomes(cue_id) == ["started", "applied"]
    assert await observer.quiet_for(1.0) == []
    assert observer.texts() == [text]
    # nothing later overwrote the receipt
    assert (await _cue_status(http, gateway, cue_id))["outcome"] == "applied"


async def test_agent_catches_up_on_a_held_cue_when_it_starts(
    livekit_server: LiveKitServer,
    credentials: Credentials,
    unhooked: Gateway,
    room: str,
    http: httpx.AsyncClient,
    stack: list[Callable[[], Awaitable[None]]],
) -> None:
    gateway = unhooked
    observer = await _observe(livekit_server, room, stack)

    text = "Welcome back, the table you booked is ready."
    cue_id = await _post_cue(http, gateway, room, text)
    held = await _wait_status(http, gateway, cue_id, lambda s: s["status"] == "held")
    assert held["outcome"] is None
    assert await observer.quiet_for(0.5) == []

    agent = await _agent(
        livekit_server, room, stack, gateway_url=gateway.url, gateway_key=gateway.agent_key
    )

    await observer.wait_for_text(text, timeout=15)
    status = await _wait_status(http, gateway, cue_id, _applied)

    assert status["status"] == "delivered"
    assert status["history"][-1]["outcome"] == "applied"
    assert status["receipt"]["said"] == text
    # it came from the catch-up, once: the gateway never sent it (no webhook, no check yet)
    received = [e for e in agent.events if e.type == "cue_received" and e.cue.id == cue_id]
    assert len(received) == 1
    assert agent.outcomes(cue_id) == ["started", "applied"]
    assert await observer.quiet_for(1.0) == []
    assert observer.texts() == [text]
    # acknowledged now, so a second catch-up (a reconnect) finds nothing
    pending = await http.get(
        f"{gateway.url}/v1/rooms/{room}/pending",
        headers={"Authorization": f"Bearer {gateway.agent_key}"},
    )
    assert pending.status_code == 200, pending.text
    assert pending.json()["cues"] == []

    # A late packet with the same cue (as the gateway's own send would be) is a duplicate:
    # said once, and the receipt the gateway holds stays the first arrival's.
    late = new_cue("say", text, id=cue_id)
    async with CueSender(credentials, transport="data") as sender:
        await sender.send(room, late)
    await _until(lambda: agent.outcomes(cue_id) == ["started", "applied", "duplicate"])
    assert await observer.quiet_for(1.0) == []
    after = await _cue_status(http, gateway, cue_id)
    assert after["outcome"] == "applied"
    assert after["history"] == status["history"]


async def test_held_cue_reaches_an_agent_that_joins_later(
    hooked: tuple[LiveKitServer, Gateway],
    room: str,
    http: httpx.AsyncClient,
    stack: list[Callable[[], Awaitable[None]]],
) -> None:
    """With webhooks, the agent's joining releases the cue at once: the gateway's packet goes
    out before the agent listens for it, and only the catch-up can still bring it."""
    livekit, gateway = hooked
    observer = await _observe(livekit, room, stack)
    text = "Your callback is booked for three o'clock."
    cue_id = await _post_cue(http, gateway, room, text)
    await _wait_status(http, gateway, cue_id, lambda s: s["status"] == "held")

    agent = await _agent(
        livekit, room, stack, gateway_url=gateway.url, gateway_key=gateway.agent_key
    )

    await observer.wait_for_text(text, timeout=15)
    status = await _wait_status(http, gateway, cue_id, _applied)
    assert status["status"] == "delivered"
    assert agent.outcomes(cue_id)[:2] == ["started", "applied"]
    assert set(agent.outcomes(cue_id)) <= {"started", "applied", "duplicate"}
    assert await observer.quiet_for(1.0) == []
    assert observer.texts() == [text]


async def test_agent_keeps_working_when_the_gateway_is_unreachable(
    livekit_server: LiveKitServer,
    credentials: Credentials,
    room: str,
    stack: list[Callable[[], Awaitable[None]]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="livecue.agent.gateway")
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    key = "lck_" + uuid.uuid4().hex
    observer = await _observe(livekit_server, room, stack)
    agent = await _agent(livekit_server, room, stack, gateway_url=closed, gateway_key=key)

    text = "The shop closes in ten minutes."
    cue = new_cue("say", text)
    async with CueSender(credentials, transport="data") as sender:
        result = await sender.send(room, cue)
    assert result.error is None

    await observer.wait_for_text(text, timeout=15)
    await _until(lambda: agent.outcomes(cue.id) == ["started", "applied"])

    # the catch-up on start and the receipt both failed, with a warning each, and no key
    deadline = time.monotonic() + 10
    while True:
        messages = [r.getMessage() for r in caplog.records if r.name == "livecue.agent.gateway"]
        if any("/pending" in m for m in messages) and any(cue.id in m for m in messages):
            break
        assert time.monotonic() < deadline, f"no warnings about the gateway: {messages}"
        await asyncio.sleep(0.1)
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name.endswith("gateway"))
    assert key not in caplog.text

    # and the next cue is acted on just the same
    second = new_cue("say", "One more thing.")
    async with CueSender(credentials, transport="data") as sender:
        assert (await sender.send(room, second)).error is None
    await observer.wait_for_text("One more thing.", timeout=15)
    await _until(lambda: agent.outcomes(second.id) == ["started", "applied"])
