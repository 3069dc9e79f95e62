"""``livecue.Client`` and ``livecue.AsyncClient`` against a real ``livecue serve``, a real
livekit-server and a real AgentSession (scripted model). On SQLite: the client speaks HTTP,
and the gateway's behaviour on both databases is the API tests' business.

The sync client runs in plain (non-async) tests, where no event loop exists, and from a
worker thread where a test's loop must keep a live agent running.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from gwkit import Stack, live_agent, make_stack, room_name

from harness.gateway import GatewayProcess
from livecue import (
    AsyncClient,
    AuthenticationFailed,
    Client,
    ConfigError,
    Conflict,
    GatewayUnreachable,
    InvalidRequest,
    NotFound,
    PermissionDenied,
    RateLimited,
    WaitTimeout,
)
from livecue.gateway.schemas import CueStatus, RoomOut

pytestmark = pytest.mark.e2e

UNLIMITED = {"LIVECUE_RATE_PER_ROOM": "1000000", "LIVECUE_RATE_PER_KEY": "1000000"}


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    s = make_stack(env=UNLIMITED)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def client(stack: Stack) -> Iterator[Client]:
    with Client(stack.url, stack.admin_key) as c:
        yield c


def held(client: Client, cue_id: str, timeout: float = 10.0) -> CueStatus:
    """The cue's status once it is ``held`` (its room has no agent)."""
    deadline = time.monotonic() + timeout
    while True:
        status = client.get(cue_id)
        if status.status == "held":
            return status
        assert time.monotonic() < deadline, f"cue {cue_id} not held: {status.status}"
        time.sleep(0.05)


# -- a real agent -----------------------------------------------------------------------


async def test_send_then_wait_gives_the_final_status_and_the_agent_s_words(stack: Stack) -> None:
    room = room_name("client")
    async with live_agent(stack.livekit, room):

        def sync_side() -> tuple[CueStatus, list[RoomOut]]:
            with Client(stack.url, stack.key("send", "read")) as gateway:
                accepted = gateway.send(room, "Order 881 has shipped.", kind="say")
                assert (accepted.room, accepted.status) == (room, "queued")
                return gateway.wait(accepted.id, timeout=20), gateway.rooms()

        status, rooms = await asyncio.to_thread(sync_side)
        assert (status.status, status.final, status.outcome) == ("delivered", True, "applied")
        assert status.receipt is not None
        assert status.receipt.said == "Order 881 has shipped."
        assert [h.state for h in status.history][-1] == "delivered"
        assert [(r.num_participants, r.agents) for r in rooms if r.name == room] == [(2, ["agent"])]

        async with AsyncClient(stack.url, stack.key("send", "read")) as gateway:
            accepted = await gateway.send(room, "A donation of $100 arrived", policy="queue")
            final = await gateway.wait(accepted.id, timeout=20)
        assert (final.status, final.outcome) == ("delivered", "applied")
        assert final.receipt is not None
        assert final.receipt.said == "Update: A donation of $100 arrived."
        assert final.cue["kind"] == "reply"

        # an agent has (had) it: cancelling is a conflict, with the gateway's reason
        with Client(stack.url, stack.admin_key) as gateway, pytest.raises(Conflict) as conflict:
            gateway.cancel(accepted.id)
    assert conflict.value.status == 409
    assert str(conflict.value) == (
        f"cue {accepted.id!r} is final already (delivered) and cannot be cancelled"
    )


async def test_broadcast_reaches_the_agent_and_a_room_without_one_is_held(stack: Stack) -> None:
    with_agent, without = room_name("bc"), room_name("bc")
    async with (
        live_agent(stack.livekit, with_agent),
        AsyncClient(stack.url, stack.key("broadcast", "read")) as gateway,
    ):
        accepted = await gateway.broadcast(
            "We close in ten minutes.", rooms=[with_agent, without], kind="say", ttl_s=30
        )
        by_room = {c.room: c.id for c in accepted.cues}
        assert set(by_room) == {with_agent, without}
        delivered = await gateway.wait(by_room[with_agent], timeout=20)
        assert delivered.receipt is not None
        assert delivered.receipt.said == "We close in ten minutes."
        assert delivered.source == "broadcast"
        with pytest.raises(WaitTimeout) as waited:
            await gateway.wait(by_room[without], timeout=1)
    assert waited.value.last.status in ("queued", "sending", "held")
    assert waited.value.cue_id == by_room[without]


# -- listing ------------------------------------------------------------------------------


def test_list_follows_every_page_and_sees_each_cue_once(stack: Stack, client: Client) -> None:
    tag = uuid.uuid4().hex[:8]
    room_a, room_b = f"list/{tag} ü", f"list/{tag} other"
    first = [client.send(room_a, f"a{i}", kind="context", ttl_s=120).id for i in range(7)]
    time.sleep(0.05)
    boundary = datetime.now(timezone.utc)
    time.sleep(0.05)
    second = [client.send(room_a, f"a{i}", kind="context", ttl_s=120).id for i in range(7, 13)]
    other = [client.send(room_b, f"b{i}", kind="context", ttl_s=120).id for i in range(4)]

    everything = list(client.list(room=room_a, page_size=5))  # 3 pages
    assert [c.id for c in everything] == list(reversed(first + second))  # newest first
    assert {c.room for c in everything} == {room_a}
    assert [c.text for c in everything] == [f"a{i}" for i in reversed(range(13))]

    newer = [c.id for c in client.list(room=room_a, created_after=boundary, page_size=2)]
    assert newer == list(reversed(second))
    older = [c.id for c in client.list(room=room_a, created_before=boundary, page_size=3)]
    assert older == list(reversed(first))
    assert [c.id for c in client.list(room=room_b, source="api", page_size=1)] == list(
        reversed(other)
    )
    assert list(client.list(room=room_b, source="hook")) == []

    page = client.list_page(room=room_a, limit=10)
    assert len(page.cues) == 10 and page.next_cursor is not None
    rest = client.list_page(page.next_cursor, room=room_a, limit=10)
    assert [c.id for c in page.cues + rest.cues] == [c.id for c in everything]
    assert rest.next_cursor is None

    # every one of them ends up held (no such room), and the state filter sees them all
    for cue_id in first + second:
        held(client, cue_id)
    assert {c.id for c in client.list(room=room_a, state="held", page_size=4)} == set(
        first + second
    )
    assert list(client.list(room=room_a, state="delivered")) == []


async def test_the_async_list_is_the_sync_list(stack: Stack) -> None:
    room = f"alist {uuid.uuid4().hex[:8]}"
    async with AsyncClient(stack.url, stack.admin_key) as gateway:
        sent = [(await gateway.send(room, f"n{i}", kind="context")).id for i in range(9)]
        seen = [c.id async for c in gateway.list(room=room, page_size=4)]
        one_page = await gateway.list_page(room=room, limit=9)
    assert seen == list(reversed(sent))
    assert [c.id for c in one_page.cues] == seen and one_page.next_cursor is None


@pytest.mark.parametrize("room", ["a/b c", "..", ".", "ünï 会议室 100%", "q?x=1#f"])
def test_any_room_name_reaches_the_gateway_as_it_is(client: Client, room: str) -> None:
    unique = f"{room} {uuid.uuid4().hex[:6]}" if room not in ("..", ".") else room
    accepted = client.send(unique, "hi", kind="context", ttl_s=60)
    assert accepted.room == unique
    assert client.get(accepted.id).room == unique
    assert accepted.id in [c.id for c in client.list(room=unique)]


def test_the_same_idempotency_key_gives_the_cue_made_the_first_time(client: Client) -> None:
    room, key = room_name("idem"), f"order-{uuid.uuid4().hex[:8]}"
    first = client.send(room, "Order 881 shipped", kind="context", idempotency_key=key)
    again = client.send(room, "Order 881 shipped", kind="context", idempotency_key=key)
    other = client.send(room, "Order 881 shipped", kind="context")
    assert again.id == first.id and other.id != first.id
    assert [c.id for c in client.list(room=room)] == [other.id, first.id]
    with pytest.raises(InvalidRequest) as reused:  # the same key with another body
        client.send(room, "Order 882 shipped", kind="context", idempotency_key=key)
    assert str(reused.value) == "Idempotency-Key was already used with a different request body"


# -- cancel and resend --------------------------------------------------------------------


def test_cancel_a_held_cue_then_resend_it(stack: Stack, client: Client) -> None:
    room = room_name("cancel")
    accepted = client.send(room, "Your table is ready.", kind="say", ttl_s=60)
    held(client, accepted.id)

    cancelled = client.cancel(accepted.id)
    assert (cancelled.status, cancelled.final) == ("cancelled", True)
    assert cancelled.history[-1].state == "cancelled"
    admin_id = stack.admin_key.split("_")[1]
    assert cancelled.reason == f"cancelled by API key {admin_id}"
    assert client.wait(accepted.id, timeout=1).status == "cancelled"  # final: no waiting
    assert client.cancel(accepted.id).status == "cancelled"  # again: the same answer

    again = client.resend(accepted.id)
    assert again.id != accepted.id and again.room == room
    resent = client.get(again.id)
    assert resent.resent_from == accepted.id
    assert (resent.cue["kind"], resent.cue["text"]) == ("say", "Your table is ready.")
    listed = {c.id: c for c in client.list(room=room)}
    assert listed[again.id].resent_from == accepted.id
    assert listed[accepted.id].status == "cancelled"

    with pytest.raises(NotFound) as missing:
        client.cancel("no-such-cue")
    assert str(missing.value) == "no cue with id 'no-such-cue'"
    with pytest.raises(NotFound):
        client.resend("no-such-cue")


async def test_async_cancel_and_resend(stack: Stack) -> None:
    room = room_name("acancel")
    async with AsyncClient(stack.url, stack.key("send", "read")) as gateway:
        accepted = await gateway.send(room, "note", kind="context", ttl_s=60)
        for _ in range(200):
            if (await gateway.get(accepted.id)).status == "held":
                break
            await asyncio.sleep(0.05)
        cancelled = await gateway.cancel(accepted.id)
        again = await gateway.resend(accepted.id)
        resent = await gateway.get(again.id)
    assert cancelled.status == "cancelled"
    assert resent.resent_from == accepted.id


# -- refusals -------------------------------------------------------------------------------


def test_a_bad_key_is_authentication_failed(stack: Stack) -> None:
    admin_id = stack.admin_key.split("_")[1]
    with (
        Client(stack.url, f"lck_{admin_id}_wrongsecret") as bad,
        pytest.raises(AuthenticationFailed) as refused,
    ):
        bad.get("anything")
    assert refused.value.status == 401 and refused.value.code == "unauthenticated"
    assert "unknown or revoked" in str(refused.value)


def test_a_read_only_key_cannot_send(stack: Stack, client: Client) -> None:
    with Client(stack.url, stack.key("read")) as reader:
        with pytest.raises(PermissionDenied) as refused:
            reader.send(room_name(), "hello")
        assert str(refused.value) == "this API key lacks the 'send' scope"
        assert refused.value.status == 403
        cue_id = client.send(room_name(), "hello", kind="context").id
        assert reader.get(cue_id).id == cue_id  # reading is what it may do


def test_an_invalid_cue_names_the_field(client: Client) -> None:
    with pytest.raises(InvalidRequest) as invalid:
        client.send(room_name(), "hi", kind="Not A Kind!")
    assert invalid.value.status == 422
    assert str(invalid.value).startswith("body.kind:")
    with pytest.raises(InvalidRequest, match="ttl_s"):
        client.send(room_name(), "hi", ttl_s=-1)


async def test_too_many_requests_is_rate_limited_with_retry_after(stack: Stack) -> None:
    gateway = GatewayProcess(stack.livekit, env_extra={"LIVECUE_RATE_PER_KEY": "3"})  # burst 6
    try:
        key = gateway.create_key("send")
        await asyncio.to_thread(gateway.start)
        async with AsyncClient(gateway.url, key) as c:
            for _ in range(6):
                await c.send(room_name(), "note", kind="context")
            with pytest.raises(RateLimited) as limited:
                await c.send(room_name(), "note", kind="context")
        with Client(gateway.url, key) as c, pytest.raises(RateLimited) as sync_limited:
            c.send(room_name(), "note", kind="context")
    finally:
        await asyncio.to_thread(gateway.close)
    for error in (limited.value, sync_limited.value):
        assert str(error) == "too many requests for this API key"
        assert error.status == 429
        assert error.retry_after_s >= 1


# -- no gateway, or a slow one --------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_unreachable_gateway_fails_at_once() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    with Client(url, "lck_x_y") as c, pytest.raises(GatewayUnreachable) as sync_error:
        c.send("room", "hi")
    async with AsyncClient(url, "lck_x_y") as ac:
        with pytest.raises(GatewayUnreachable) as async_error:
            await ac.get("cue")
    assert time.monotonic() - started < 5  # refused, not timed out
    for error in (sync_error.value, async_error.value):
        assert str(error).startswith(f"cannot reach the gateway at {url} (ConnectError")
        assert error.retryable and error.status is None
        assert error.__cause__ is not None


def test_a_gateway_that_does_not_answer_times_out() -> None:
    """A listening socket that never answers: the request's own timeout ends it."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        started = time.monotonic()
        with Client(url, "lck_x_y", timeout=0.5) as c, pytest.raises(GatewayUnreachable) as err:
            c.get("cue")
        took = time.monotonic() - started
    assert str(err.value) == f"no answer from the gateway at {url} within 0.5 s (ReadTimeout)"
    assert took < 5


def test_missing_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIVECUE_GATEWAY_URL", raising=False)
    monkeypatch.delenv("LIVECUE_API_KEY", raising=False)
    with pytest.raises(ConfigError, match="LIVECUE_GATEWAY_URL"):
        Client()
    monkeypatch.setenv("LIVECUE_GATEWAY_URL", "http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="LIVECUE_API_KEY"):
        AsyncClient()


def test_settings_from_the_environment(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIVECUE_GATEWAY_URL", stack.url + "/")
    monkeypatch.setenv("LIVECUE_API_KEY", stack.key("read"))
    with Client() as c:
        assert c.base_url == stack.url
        assert stack.key("read") not in repr(c)
        assert isinstance(c.rooms(), list)


# -- waiting ------------------------------------------------------------------------------


def test_wait_gives_up_naming_the_cue_and_its_state(client: Client) -> None:
    room = room_name("wait")
    accepted = client.send(room, "hello", kind="say", ttl_s=60)
    held(client, accepted.id)
    started = time.monotonic()
    with pytest.raises(WaitTimeout) as waited:
        client.wait(accepted.id, timeout=1.0)
    took = time.monotonic() - started
    assert 1.0 <= took < 5
    assert str(waited.value) == (
        f"cue {accepted.id!r} is not final after 1 s; its last state is held: "
        f"room {room!r} does not exist on the LiveKit server"
    )
    assert waited.value.last.status == "held" and waited.value.retryable


async def test_async_wait_gives_up_too(stack: Stack) -> None:
    async with AsyncClient(stack.url, stack.admin_key) as gateway:
        accepted = await gateway.send(room_name("await"), "hello", kind="say", ttl_s=60)
        with pytest.raises(WaitTimeout) as waited:
            await gateway.wait(accepted.id, timeout=0.5)
    assert waited.value.cue_id == accepted.id
    assert f"cue {accepted.id!r} is not final after 0.5 s" in str(waited.value)


def test_wait_returns_when_a_held_cue_expires(client: Client) -> None:
    accepted = client.send(room_name("expire"), "hello", kind="say", ttl_s=1)
    status = client.wait(accepted.id, timeout=15)
    assert (status.status, status.final) == ("expired", True)
    assert status.reason is not None and status.reason.startswith("expired:")
