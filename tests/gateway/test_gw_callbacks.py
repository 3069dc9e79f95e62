"""Status callbacks, end to end: a real gateway POSTs each final outcome to a real HTTP
receiver on loopback; the signature is checked with the Standard Webhooks reference library.

Retries here follow a short schedule (0.3 s, then 0.6 s: three attempts in all) so that
giving up is seen within a test.
"""

from __future__ import annotations

import asyncio
import base64
import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from gwkit import Stack, live_agent, post_cue, room_name, running_stack, until, wait_cue
from standardwebhooks import Webhook

from harness.http_receiver import Receiver, receiver
from harness.livekit_server import free_port

pytestmark = pytest.mark.integration

SECRET = "whsec_" + base64.b64encode(os.urandom(32)).decode()
RETRY_S = (0.3, 0.6)


@pytest.fixture(scope="module")
def port() -> int:
    """The receiver's port: on the gateway's allow-list (under /cb/ only)."""
    return free_port()


@pytest.fixture(scope="module")
def stack(db: str, port: int) -> Iterator[Stack]:
    with running_stack(
        db=db,
        env={
            "LIVECUE_CALLBACK_ALLOW": f"http://127.0.0.1:{port}/cb/",
            "LIVECUE_CALLBACK_SECRET": SECRET,
            "LIVECUE_CALLBACK_RETRY_S": ",".join(map(str, RETRY_S)),
            "LIVECUE_CALLBACK_TIMEOUT_S": "1",
        },
    ) as s:
        yield s


@pytest.fixture
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as c:
        yield c


@pytest.fixture
async def rec(port: int) -> AsyncIterator[Receiver]:
    async with receiver(port) as r:
        yield r


async def callback_of(
    c: httpx.AsyncClient, cue_id: str, state: str, *, attempts: int = 1
) -> dict[str, Any]:
    """The cue's callback once it is in ``state`` after at least ``attempts`` attempts."""

    async def check() -> dict[str, Any] | None:
        body = (await c.get(f"/v1/cues/{cue_id}")).json()
        found = [
            cb
            for cb in body["callbacks"]
            if cb["state"] == state and len(cb["history"]) >= attempts
        ]
        return found[0] if found else None

    return await until(check, timeout=15, what=f"the callback of {cue_id} to be {state}")


def verified(received: Any) -> dict[str, Any]:
    """The event, verified as a receiver would with the reference implementation."""
    event: dict[str, Any] = Webhook(SECRET).verify(received.body, received.headers)
    return event


async def test_a_final_outcome_arrives_signed_with_what_the_agent_said(
    stack: Stack, client: httpx.AsyncClient, rec: Receiver
) -> None:
    room = room_name("cb")
    async with live_agent(stack.livekit, room):
        cue_id = await post_cue(
            client, room, kind="say", text="Your order shipped.", callback_url=rec.url("/cb/o1")
        )
        await wait_cue(client, cue_id, timeout=20)
    callback = await callback_of(client, cue_id, "delivered")

    [got] = rec.to("/cb/o1")
    event = verified(got)
    assert event["type"] == "cue.applied"
    assert event["data"]["id"] == cue_id and event["data"]["room"] == room
    assert event["data"]["receipt"]["said"] == "Your order shipped."
    assert (event["data"]["status"], event["data"]["outcome"]) == ("delivered", "applied")
    assert got.headers["webhook-id"] == callback["id"]
    assert [a["status"] for a in callback["history"]] == [204]
    assert callback["history"][0]["duration_ms"] >= 0 and callback["history"][0]["error"] is None


async def test_a_refused_attempt_is_retried_under_the_same_id_and_each_is_recorded(
    client: httpx.AsyncClient, rec: Receiver
) -> None:
    rec.answers = [500]  # then the default, 204
    url = rec.url("/cb/retry")
    cue_id = await post_cue(client, room_name("cb"), text="x", ttl_s=0.5, callback_url=url)
    callback = await callback_of(client, cue_id, "delivered")

    first, second = rec.to("/cb/retry")
    assert verified(first)["type"] == verified(second)["type"] == "cue.expired"
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == callback["id"]
    assert first.body == second.body  # the same event; only the signature's time moves on
    assert second.at - first.at >= RETRY_S[0] - 0.05
    attempts = callback["history"]
    assert [a["status"] for a in attempts] == [500, 204]
    assert attempts[0]["error"] == "the receiver answered 500" and attempts[1]["error"] is None
    assert callback["attempts"] == 2


async def test_a_callback_that_keeps_failing_gives_up_after_the_last_attempt(
    client: httpx.AsyncClient, rec: Receiver
) -> None:
    rec.default = 503
    url = rec.url("/cb/give-up")
    cue_id = await post_cue(client, room_name("cb"), text="x", ttl_s=0.5, callback_url=url)
    callback = await callback_of(client, cue_id, "failed")
    assert [a["status"] for a in callback["history"]] == [503, 503, 503]
    assert callback["next_attempt_at"] is None
    await asyncio.sleep(sum(RETRY_S) + 0.5)
    assert len(rec.to("/cb/give-up")) == 3  # nothing after the last attempt


async def test_a_redirect_is_not_followed_and_a_silent_receiver_times_out(
    client: httpx.AsyncClient, rec: Receiver
) -> None:
    rec.answers = [302]
    rec.redirect_to = "http://169.254.169.254/latest/meta-data/"
    url = rec.url("/cb/redirect")
    cue_id = await post_cue(client, room_name("cb"), text="x", ttl_s=0.5, callback_url=url)
    callback = await callback_of(client, cue_id, "delivered")
    assert [a["status"] for a in callback["history"]] == [302, 204]

    rec.delay_s = 3.0  # longer than LIVECUE_CALLBACK_TIMEOUT_S
    slow = await post_cue(
        client, room_name("cb"), text="x", ttl_s=0.5, callback_url=rec.url("/cb/s")
    )
    failed = await callback_of(client, slow, "failed")
    assert all(a["status"] is None for a in failed["history"])
    assert failed["history"][0]["error"] == "no answer within 1 s"


async def test_a_receiver_answering_with_a_huge_body_is_not_read(
    client: httpx.AsyncClient, rec: Receiver
) -> None:
    rec.default, rec.body_size = 200, 1 << 30  # a gigabyte: take the status and hang up
    cue_id = await post_cue(
        client, room_name("cb"), text="x", ttl_s=0.5, callback_url=rec.url("/cb/huge")
    )
    callback = await callback_of(client, cue_id, "delivered")

    assert [a["status"] for a in callback["history"]] == [200]
    await asyncio.sleep(0.5)  # time enough to read far more than the bound below
    assert 0 < rec.streamed < 64 << 20, f"the gateway read {rec.streamed >> 20} MiB of the body"


async def test_cancelled_and_key_default_callbacks(
    stack: Stack, client: httpx.AsyncClient, rec: Receiver
) -> None:
    r = await client.post(
        "/v1/keys", json={"scopes": ["send", "read"], "callback_url": rec.url("/cb/crm")}
    )
    assert r.status_code == 201, r.text
    async with stack.client(r.json()["key"]) as crm:
        cue_id = await post_cue(crm, room_name("cb"), text="for a room with no agent")
        await until(lambda: _state_is(crm, cue_id, "held"), timeout=10, what="the cue to be held")
        cancelled = await crm.delete(f"/v1/cues/{cue_id}")
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
        await callback_of(crm, cue_id, "delivered")
    [got] = rec.to("/cb/crm")
    event = verified(got)
    assert event["type"] == "cue.cancelled" and event["data"]["id"] == cue_id
    assert event["data"]["reason"].startswith("cancelled by API key ")


async def _state_is(c: httpx.AsyncClient, cue_id: str, state: str) -> bool:
    return bool((await c.get(f"/v1/cues/{cue_id}")).json()["status"] == state)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:1/cb/",  # another port
        "http://localhost:{port}/cb/",  # another host name for the same place
        "http://127.0.0.1:{port}/admin",  # outside the allowed path
        "http://127.0.0.1:{port}/cb/../admin",
        "http://127.0.0.1:{port}/cb/%2e%2e/admin",
        "http://user:pw@127.0.0.1:{port}/cb/",
        "https://127.0.0.1:{port}/cb/",  # another scheme
        "file:///etc/passwd",
        "not a url",
    ],
)
async def test_a_callback_url_off_the_allow_list_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, port: int, url: str
) -> None:
    room = room_name("cb")
    r = await client.post(
        f"/v1/rooms/{room}/cues", json={"text": "x", "callback_url": url.format(port=port)}
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"].startswith("callback_url: ")
    listed = (await client.get("/v1/cues", params={"room": room})).json()
    assert listed["cues"] == []


async def test_a_pending_callback_survives_a_kill_9_of_the_gateway(
    stack: Stack, client: httpx.AsyncClient, port: int
) -> None:
    # slower retries for this test, so the kill lands between two attempts
    stack.gateway.env_extra["LIVECUE_CALLBACK_RETRY_S"] = "1,1,1"
    stack.gateway.restart()
    try:
        # the receiver is down: the first attempt cannot connect
        url = f"http://127.0.0.1:{port}/cb/kill"
        cue_id = await post_cue(client, room_name("cb"), text="x", ttl_s=0.5, callback_url=url)
        first = await callback_of(client, cue_id, "pending")
        assert first["history"][0]["status"] is None and first["history"][0]["error"]
        stack.gateway.kill()
        async with receiver(port) as rec:
            stack.gateway.start()
            done = await callback_of(client, cue_id, "delivered")
            [got] = rec.to("/cb/kill")
        assert verified(got)["data"]["id"] == cue_id
        assert done["id"] == first["id"] and done["history"][-1]["status"] == 204
        assert all(a["status"] is None for a in done["history"][:-1])
    finally:
        stack.gateway.env_extra["LIVECUE_CALLBACK_RETRY_S"] = ",".join(map(str, RETRY_S))
        stack.gateway.restart()
