"""The gateway's HTTP API against a real `livecue serve`, a real livekit-server and a real agent."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import uuid
from datetime import datetime

import httpx
import pytest
from gwkit import Stack, live_agent, received_ids, room_name, until, wait_cue

from harness.gateway import LIVECUE
from harness.participants import join

pytestmark = pytest.mark.e2e


def _error(response: httpx.Response) -> dict[str, str]:
    body = response.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    error: dict[str, str] = body["error"]
    return error


async def test_cue_is_delivered_with_a_receipt_and_a_history(api_stack: Stack, room: str) -> None:
    async with live_agent(api_stack.livekit, room) as (observer, agent), api_stack.client() as c:
        r = await c.post(
            f"/v1/rooms/{room}/cues", json={"kind": "say", "text": "Order 881 has shipped."}
        )
        assert r.status_code == 202, r.text
        accepted = r.json()
        assert accepted["room"] == room
        assert accepted["status"] == "queued"
        cue_id = accepted["id"]

        spoken = await observer.wait_for_text("Order 881 has shipped.", timeout=10)
        assert spoken.text.strip() == "Order 881 has shipped."
        status = await wait_cue(c, cue_id)

        assert status["status"] == "delivered"
        assert status["outcome"] == "applied"
        assert status["final"] is True
        assert status["attempts"] == 1
        assert status["transport"] == "rpc"
        assert status["agent"] == "agent"
        assert status["cue"]["text"] == "Order 881 has shipped."
        # the receipt: what the agent said, and when (the gateway asked the agent for it)
        receipt = status["receipt"]
        assert receipt["said"] == "Order 881 has shipped."
        started, ended = (
            datetime.fromisoformat(receipt[k].replace("Z", "+00:00"))
            for k in ("speech_started_at", "speech_ended_at")
        )
        assert started <= ended
        steps = [(h["state"], h["outcome"]) for h in status["history"]]
        assert steps == [
            ("queued", None),
            ("sending", None),
            ("at_agent", "started"),
            ("delivered", "applied"),
        ]
        times = [datetime.fromisoformat(h["at"].replace("Z", "+00:00")) for h in status["history"]]
        assert times == sorted(times)
        assert status["delivered_at"] is not None
        assert agent.outcomes(cue_id) == ["started", "applied"]

        async def gauge_counts_it() -> str | None:  # the state gauge is refreshed each second
            text = (await c.get("/metrics")).text
            return text if 'livecue_cues{state="delivered"}' in text else None

        metrics = await until(gauge_counts_it, timeout=5, what="the delivered cue in /metrics")
        latency_count = next(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("livecue_delivery_latency_seconds_count")
        )
        assert latency_count >= 1
        applied = next(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith('livecue_cue_outcomes_total{outcome="applied"}')
        )
        assert applied >= 1


async def test_idempotency_key_gives_one_cue_for_one_body(api_stack: Stack, room: str) -> None:
    body = {"kind": "say", "text": "Your table is ready."}
    async with live_agent(api_stack.livekit, room) as (observer, agent), api_stack.client() as c:
        headers = {"Idempotency-Key": "table-ready-17"}
        first = await c.post(f"/v1/rooms/{room}/cues", json=body, headers=headers)
        second = await c.post(f"/v1/rooms/{room}/cues", json=body, headers=headers)
        assert first.status_code == second.status_code == 202
        cue_id = first.json()["id"]
        assert second.json()["id"] == cue_id

        await observer.wait_for_text("Your table is ready.")
        await wait_cue(c, cue_id)
        third = await c.post(f"/v1/rooms/{room}/cues", json=body, headers=headers)
        assert third.status_code == 202 and third.json()["id"] == cue_id
        assert third.json()["status"] == "delivered"
        await observer.quiet_for(1.0)

        assert received_ids(agent) == [cue_id]
        assert sum("Your table is ready." in t for t in observer.texts()) == 1

        changed = await c.post(
            f"/v1/rooms/{room}/cues",
            json={"kind": "say", "text": "Your table is NOT ready."},
            headers=headers,
        )
        assert changed.status_code == 422
        assert "Idempotency-Key" in _error(changed)["message"]
        assert "different request body" in _error(changed)["message"]
        # the same key for another room is another request too
        elsewhere = await c.post(f"/v1/rooms/{room_name()}/cues", json=body, headers=headers)
        assert elsewhere.status_code == 422
        await observer.quiet_for(0.5)
        assert received_ids(agent) == [cue_id]


async def test_a_cue_id_chosen_by_the_sender_is_never_used_twice(
    api_stack: Stack, room: str
) -> None:
    cue_id = f"order-881-{uuid.uuid4().hex[:8]}"
    body = {"kind": "context", "text": "Order 881 shipped", "id": cue_id}
    async with api_stack.client() as c:
        first = await c.post(f"/v1/rooms/{room}/cues", json=body)
        assert (first.status_code, first.json()["id"]) == (202, cue_id)
        again = await c.post(f"/v1/rooms/{room}/cues", json=body)  # a retried request
        assert (again.status_code, again.json()["id"]) == (202, cue_id)

        changed = await c.post(f"/v1/rooms/{room}/cues", json={**body, "text": "Order 882"})
        assert changed.status_code == 422
        assert _error(changed)["message"] == f"id: a cue with id {cue_id!r} already exists"
        elsewhere = await c.post(f"/v1/rooms/{room_name()}/cues", json=body)
        assert elsewhere.status_code == 422
        with_key = await c.post(
            f"/v1/rooms/{room}/cues",
            json={**body, "text": "Order 883"},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert with_key.status_code == 422
        assert _error(with_key)["message"].startswith("id: ")

        status = (await c.get(f"/v1/cues/{cue_id}")).json()
    assert status["room"] == room
    assert status["cue"]["text"] == "Order 881 shipped"


async def test_keys_and_scopes(api_stack: Stack, room: str) -> None:
    url = f"{api_stack.url}/v1/rooms/{room}/cues"
    cue = {"kind": "context", "text": "VIP caller"}
    async with httpx.AsyncClient(timeout=10) as c:
        missing = await c.post(url, json=cue)
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == "Bearer"
        assert _error(missing)["code"] == "unauthenticated"
        assert "missing or malformed" in _error(missing)["message"]

        malformed = await c.post(url, json=cue, headers={"Authorization": "Bearer not-a-key"})
        assert malformed.status_code == 401

        admin_id = api_stack.admin_key.split("_")[1]
        wrong_secret = await c.post(
            url, json=cue, headers={"Authorization": f"Bearer lck_{admin_id}_wrongsecret"}
        )
        assert wrong_secret.status_code == 401
        assert "unknown or revoked" in _error(wrong_secret)["message"]

        basic = await c.post(
            url, json=cue, headers={"Authorization": f"Basic {api_stack.admin_key}"}
        )
        assert basic.status_code == 401

        reader = api_stack.headers(api_stack.key("read"))
        forbidden = await c.post(url, json=cue, headers=reader)
        assert forbidden.status_code == 403
        assert _error(forbidden) == {
            "code": "forbidden",
            "message": "this API key lacks the 'send' scope",
        }

        sender = api_stack.headers(api_stack.key("send"))
        accepted = await c.post(url, json=cue, headers=sender)
        assert accepted.status_code == 202
        cue_id = accepted.json()["id"]
        cannot_read = await c.get(f"{api_stack.url}/v1/cues/{cue_id}", headers=sender)
        assert cannot_read.status_code == 403
        assert "'read'" in _error(cannot_read)["message"]
        can_read = await c.get(f"{api_stack.url}/v1/cues/{cue_id}", headers=reader)
        assert can_read.status_code == 200 and can_read.json()["id"] == cue_id
        no_broadcast = await c.post(
            f"{api_stack.url}/v1/broadcasts", json={"rooms": [room], "cue": cue}, headers=sender
        )
        assert no_broadcast.status_code == 403
        assert "'broadcast'" in _error(no_broadcast)["message"]


def _keys(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LIVECUE, "keys", *args, "--db", stack.gateway.db],
        env=stack.gateway.env,
        capture_output=True,
        text=True,
        timeout=30,
    )


async def test_keys_list_and_revoke(api_stack: Stack, room: str) -> None:
    created = await asyncio.to_thread(
        _keys, api_stack, "create", "--scope", "send", "--name", "crm"
    )
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip().splitlines()[-1]
    key_id = token.split("_", 2)[1]
    url = f"{api_stack.url}/v1/rooms/{room}/cues"
    cue = {"kind": "context", "text": "with a key about to go"}
    async with httpx.AsyncClient(timeout=10, headers={"Authorization": f"Bearer {token}"}) as c:
        assert (await c.post(url, json=cue)).status_code == 202

        listed = _keys(api_stack, "list", "--json")
        assert listed.returncode == 0, listed.stderr
        mine = next(k for k in json.loads(listed.stdout) if k["id"] == key_id)
        assert (mine["name"], mine["scopes"], mine["revoked_at"]) == ("crm", ["send"], None)
        assert token.split("_", 2)[2] not in listed.stdout  # the secret is never shown
        table = _keys(api_stack, "list")
        assert key_id in table.stdout and "crm" in table.stdout

        revoked = _keys(api_stack, "revoke", key_id)
        assert (revoked.returncode, revoked.stdout.strip()) == (0, f"revoked key {key_id}")

        async def refused() -> bool:
            return (await c.post(url, json=cue)).status_code == 401

        # the promise: every request with a revoked key is refused within 5 s
        await until(refused, timeout=5, interval=0.2, what="the revoked key to be refused")
        answer = await c.post(url, json=cue)
        assert _error(answer)["message"] == "unknown or revoked API key"

    again = _keys(api_stack, "revoke", key_id)
    assert (again.returncode, again.stdout.strip()) == (0, f"key {key_id} was already revoked")
    unknown = _keys(api_stack, "revoke", "0000000000000000")
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "error: no API key with id '0000000000000000'"
    after = next(
        k for k in json.loads(_keys(api_stack, "list", "--json").stdout) if k["id"] == key_id
    )
    assert after["revoked_at"] is not None


async def test_unknown_cue_is_a_json_404(api_stack: Stack) -> None:
    async with api_stack.client() as c:
        r = await c.get("/v1/cues/no-such-cue-123")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/json")
    assert _error(r) == {"code": "not_found", "message": "no cue with id 'no-such-cue-123'"}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"kind": "say", "text": "hi", "policy": "sometimes"}, "body.policy"),
        ({"kind": "say", "txt": "hi"}, "body.txt"),
        ({"kind": "Say!", "text": "hi"}, "body.kind"),
        ({"kind": "say", "text": "hi", "ttl_s": -5}, "body.ttl_s"),
        ({"kind": "say"}, "text"),  # no text for a say cue: named by the envelope check
        ([1, 2, 3], "body"),
    ],
)
async def test_malformed_body_is_a_422_naming_the_field(
    api_stack: Stack, room: str, body: object, named: str
) -> None:
    async with api_stack.client() as c:
        r = await c.post(f"/v1/rooms/{room}/cues", json=body)
    assert r.status_code == 422, r.text
    assert re.search(rf"(^|\W){re.escape(named)}(\W|$)", _error(r)["message"]), r.text


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "multipart/x"])
async def test_body_that_is_not_json_is_a_400(
    api_stack: Stack, room: str, content_type: str
) -> None:
    async with api_stack.client() as c:
        r = await c.post(
            f"/v1/rooms/{room}/cues", content=b"{not json", headers={"content-type": content_type}
        )
        # and a JSON body is JSON whatever its Content-Type says
        ok = await c.post(
            f"/v1/rooms/{room}/cues",
            content=b'{"kind": "context", "text": "typed as anything"}',
            headers={"content-type": content_type},
        )
    assert r.status_code == 400
    assert _error(r)["code"] == "invalid_json"
    assert "not valid JSON" in _error(r)["message"]
    assert ok.status_code == 202, ok.text


async def test_cue_over_the_envelope_limit_is_a_413(api_stack: Stack, room: str) -> None:
    async with api_stack.client() as c:
        r = await c.post(f"/v1/rooms/{room}/cues", json={"kind": "say", "text": "x" * 20_000})
    assert r.status_code == 413
    assert _error(r)["code"] == "cue_too_large"
    assert "15360-byte limit" in _error(r)["message"]


async def test_body_over_the_limit_is_a_413(limits_gateway: Stack, room: str) -> None:
    big = {"kind": "say", "text": "y" * 3000}
    async with limits_gateway.client() as c:
        declared = await c.post(f"/v1/rooms/{room}/cues", json=big)
        assert declared.status_code == 413
        assert _error(declared) == {
            "code": "payload_too_large",
            "message": "request body over 2048 bytes",
        }

        async def chunks():  # type: ignore[no-untyped-def]
            for _ in range(4):
                yield b" " * 1000  # no Content-Length: counted as it streams in

        streamed = await c.post(
            f"/v1/rooms/{room}/cues", content=chunks(), headers={"content-type": "application/json"}
        )
        assert streamed.status_code == 413
        assert _error(streamed)["code"] == "payload_too_large"

        small = await c.post(f"/v1/rooms/{room}/cues", json={"kind": "say", "text": "y" * 100})
        assert small.status_code == 202


async def test_rate_limit_per_room(limits_gateway: Stack) -> None:
    key = limits_gateway.gateway.create_key("send")
    busy, other = room_name("busy"), room_name("calm")
    cue = {"kind": "context", "text": "note"}
    async with limits_gateway.client(key) as c:
        codes = [(await c.post(f"/v1/rooms/{busy}/cues", json=cue)).status_code for _ in range(2)]
        assert codes == [202, 202]
        limited = await c.post(f"/v1/rooms/{busy}/cues", json=cue)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert _error(limited) == {
            "code": "rate_limited",
            "message": f"too many cues for room {busy!r}",
        }
        # another room of the same key is not limited
        assert (await c.post(f"/v1/rooms/{other}/cues", json=cue)).status_code == 202
        await asyncio.sleep(1.1)  # 1 cue/s refills
        assert (await c.post(f"/v1/rooms/{busy}/cues", json=cue)).status_code == 202
        metrics = (await c.get("/metrics")).text
    assert 'livecue_rate_limited_total{limit="room"}' in metrics


async def test_rate_limit_per_key(limits_gateway: Stack) -> None:
    key, other_key = (limits_gateway.gateway.create_key("send") for _ in range(2))
    cue = {"kind": "context", "text": "note"}
    async with limits_gateway.client(key) as c:
        codes = [
            (await c.post(f"/v1/rooms/{room_name()}/cues", json=cue)).status_code for _ in range(7)
        ]
        assert codes[:6] == [202] * 6
        assert codes[6] == 429
        limited = await c.post(f"/v1/rooms/{room_name()}/cues", json=cue)
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert _error(limited)["message"] == "too many requests for this API key"
    async with limits_gateway.client(other_key) as c:
        assert (await c.post(f"/v1/rooms/{room_name()}/cues", json=cue)).status_code == 202


async def test_rooms_lists_the_live_room_and_its_agent(api_stack: Stack, room: str) -> None:
    async with live_agent(api_stack.livekit, room), api_stack.client(api_stack.key("read")) as c:
        r = await c.get("/v1/rooms")
        assert r.status_code == 200
        mine = [x for x in r.json() if x["name"] == room]
    assert mine == [{"name": room, "num_participants": 2, "agents": ["agent"]}]


async def test_broadcast_to_explicit_rooms_reaches_each_agent(api_stack: Stack) -> None:
    rooms = [room_name("bc"), room_name("bc")]
    text = "We close in ten minutes."
    async with (
        live_agent(api_stack.livekit, rooms[0]) as (obs_a, agent_a),
        live_agent(api_stack.livekit, rooms[1]) as (obs_b, agent_b),
        api_stack.client(api_stack.key("broadcast", "read")) as c,
    ):
        r = await c.post(
            "/v1/broadcasts",
            json={"rooms": [*rooms, rooms[0]], "cue": {"kind": "say", "text": text}},
        )
        assert r.status_code == 202, r.text
        body = r.json()
        assert [x["room"] for x in body["cues"]] == rooms  # the repeated room counts once
        ids = [x["id"] for x in body["cues"]]
        assert len(set(ids)) == 2

        await obs_a.wait_for_text(text)
        await obs_b.wait_for_text(text)
        for cue_id in ids:
            status = await wait_cue(c, cue_id)
            assert (status["status"], status["outcome"]) == ("delivered", "applied")
        assert received_ids(agent_a) == [ids[0]]
        assert received_ids(agent_b) == [ids[1]]


async def test_data_transport_cue_ends_with_the_agents_outcome(api_stack: Stack, room: str) -> None:
    async with live_agent(api_stack.livekit, room) as (observer, agent), api_stack.client() as c:
        r = await c.post(
            f"/v1/rooms/{room}/cues",
            json={"kind": "say", "text": "Sent as a data packet.", "transport": "data"},
        )
        assert r.status_code == 202
        cue_id = r.json()["id"]
        await observer.wait_for_text("Sent as a data packet.")
        status = await wait_cue(c, cue_id)
        # a packet is not answered, and the agent has no gateway settings: the gateway asked it
        assert (status["status"], status["outcome"], status["transport"]) == (
            "delivered",
            "applied",
            "data",
        )
        assert status["receipt"]["said"] == "Sent as a data packet."
        outcomes = [h["outcome"] for h in status["history"] if h["state"] != "queued"]
        # handed over with no word yet; "started" is seen only if asked while it spoke
        assert outcomes[:2] == [None, None] and outcomes[-1] == "applied"
        assert agent.outcomes(cue_id) == ["started", "applied"]


async def test_health_and_readiness(api_stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=api_stack.url, timeout=10) as c:
        health = await c.get("/healthz")
        assert (health.status_code, health.json()) == (200, {"status": "ok"})
        ready = await c.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"ready": True, "checks": {"database": "ok", "livekit": "ok"}}
        metrics = await c.get("/metrics")
        assert metrics.status_code == 200
        assert "# TYPE livecue_cues gauge" in metrics.text
        assert "# TYPE livecue_delivery_latency_seconds histogram" in metrics.text


@pytest.mark.parametrize("transport", ["rpc", "data"])
async def test_cue_for_a_room_that_never_exists_is_held_then_expires_saying_so(
    api_stack: Stack, room: str, transport: str
) -> None:
    async with api_stack.client() as c:
        r = await c.post(
            f"/v1/rooms/{room}/cues",
            json={"kind": "say", "text": "hi", "ttl_s": 2, "transport": transport},
        )
        cue_id = r.json()["id"]
        held = await wait_cue(c, cue_id, {"held"}, timeout=5)
        assert held["reason"] == f"room {room!r} does not exist on the LiveKit server"
        expired = await wait_cue(c, cue_id, timeout=6)
    assert (expired["status"], expired["outcome"]) == ("expired", None)
    assert [h["state"] for h in expired["history"]] == ["queued", "sending", "held", "expired"]
    assert expired["reason"] == (
        f"expired: room {room!r} did not exist on the LiveKit server before the cue expired"
    )
    assert expired["history"][-1]["reason"] == expired["reason"]


async def test_cue_for_a_room_without_an_agent_is_held_then_expires_saying_so(
    api_stack: Stack, room: str
) -> None:
    human = await join(api_stack.livekit, room, "a-human")
    try:
        async with api_stack.client() as c:
            r = await c.post(
                f"/v1/rooms/{room}/cues", json={"kind": "say", "text": "hi", "ttl_s": 2}
            )
            cue_id = r.json()["id"]
            held = await wait_cue(c, cue_id, {"held"}, timeout=5)
            assert held["reason"] == f"room {room!r} has no agent in it"
            expired = await wait_cue(c, cue_id, timeout=6)
    finally:
        await human.disconnect()
    assert expired["status"] == "expired"
    assert expired["reason"] == f"expired: no agent joined room {room!r} before the cue expired"
