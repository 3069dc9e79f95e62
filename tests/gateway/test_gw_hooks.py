"""The seed's donation receiver as configuration: examples/donations.yaml, Standard Webhooks."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from gwkit import (
    DONATION_SECRET,
    Stack,
    cues_where,
    live_agent,
    received_ids,
    room_name,
    wait_cue,
)

from livecue._hook_signatures import sign_standard_webhooks
from livecue.store import CueFilter

pytestmark = pytest.mark.e2e


def donation(room: str | None, amount: int = 25, donor: str = "Ada") -> bytes:
    data: dict[str, object] = {"amount": amount, "currency": "EUR", "donor": donor}
    if room is not None:
        data["room"] = room
    return json.dumps({"type": "donation.succeeded", "data": data}).encode()


def signed(body: bytes, *, msg_id: str | None = None, at: float | None = None) -> dict[str, str]:
    headers = sign_standard_webhooks(
        body, DONATION_SECRET, msg_id or f"msg_{uuid.uuid4().hex}", int(at or time.time())
    )
    return {**headers, "content-type": "application/json"}


async def hook_cues(stack: Stack) -> int:
    return len(await cues_where(stack, CueFilter(hook="donations")))


async def test_signed_donation_reaches_the_agent_once(api_stack: Stack, room: str) -> None:
    body = donation(room)
    headers = signed(body)
    async with (
        live_agent(api_stack.livekit, room) as (observer, agent),
        httpx.AsyncClient(base_url=api_stack.url, timeout=10) as c,
        api_stack.client() as admin,
    ):
        r = await c.post("/hooks/donations", content=body, headers=headers)
        assert r.status_code == 202, r.text
        accepted = r.json()
        assert accepted["status"] == "accepted" and accepted["room"] == room
        cue_id = accepted["id"]

        spoken = await observer.wait_for_text("A donation of 25 EUR from Ada", timeout=10)
        assert "A donation of 25 EUR from Ada" in spoken.text
        status = await wait_cue(admin, cue_id)
        assert (status["status"], status["outcome"]) == ("delivered", "applied")
        assert status["cue"]["kind"] == "reply"
        assert status["cue"]["text"] == "A donation of 25 EUR from Ada"
        assert status["cue"]["coalesce_key"] == "donations"

        again = await c.post("/hooks/donations", content=body, headers=headers)
        assert again.status_code == 200
        assert again.json() == {"status": "duplicate", "id": cue_id, "room": room}
        await observer.quiet_for(1.5)
        assert received_ids(agent) == [cue_id]
        assert sum("A donation of 25 EUR" in t for t in observer.texts()) == 1


async def test_tampered_or_stale_deliveries_are_refused(api_stack: Stack) -> None:
    room = room_name("donor")
    body = donation(room)
    before = await hook_cues(api_stack)
    async with httpx.AsyncClient(base_url=api_stack.url, timeout=10) as c:
        tampered = await c.post(
            "/hooks/donations", content=donation(room, amount=25_000), headers=signed(body)
        )
        assert tampered.status_code == 401
        assert tampered.json()["error"]["message"] == (
            "webhook verification failed: signature does not match"
        )

        stale = await c.post(
            "/hooks/donations", content=body, headers=signed(body, at=time.time() - 600)
        )
        assert stale.status_code == 401
        assert stale.json()["error"]["message"] == (
            "webhook verification failed: timestamp outside the tolerance window"
        )

        wrong_secret = sign_standard_webhooks(
            body, "whsec_" + "QUJD" * 8, "msg_x", int(time.time())
        )
        forged = await c.post("/hooks/donations", content=body, headers=wrong_secret)
        assert forged.status_code == 401

        unsigned = await c.post("/hooks/donations", content=body)
        assert unsigned.status_code == 401
        assert "missing header webhook-id" in unsigned.json()["error"]["message"]
    assert await hook_cues(api_stack) == before  # nothing was stored for any of them


async def test_payload_without_the_room_is_a_422_naming_the_field(api_stack: Stack) -> None:
    body = donation(None)
    async with httpx.AsyncClient(base_url=api_stack.url, timeout=10) as c:
        r = await c.post("/hooks/donations", content=body, headers=signed(body))
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "the payload has no field 'payload.data.room'"


async def test_a_payload_the_templates_cannot_render_is_a_422_not_a_500(api_stack: Stack) -> None:
    body = donation("r" * 16_000)  # the room template's output would be over its limit
    async with httpx.AsyncClient(base_url=api_stack.url, timeout=10) as c:
        r = await c.post("/hooks/donations", content=body, headers=signed(body))
    assert r.status_code == 422
    assert r.json()["error"]["message"] == (
        "template 'hooks.donations.room': rendered output is over the 15360-byte limit"
    )


async def test_other_events_are_ignored_and_unknown_hooks_are_404(api_stack: Stack) -> None:
    body = json.dumps({"type": "donation.refunded", "data": {"room": room_name()}}).encode()
    before = await hook_cues(api_stack)
    async with httpx.AsyncClient(base_url=api_stack.url, timeout=10) as c:
        ignored = await c.post("/hooks/donations", content=body, headers=signed(body))
        assert ignored.status_code == 200
        assert ignored.json() == {"status": "ignored", "id": None, "room": None}

        unknown = await c.post("/hooks/payments", content=body, headers=signed(body))
        assert unknown.status_code == 404
        assert unknown.json()["error"]["message"] == "no hook named 'payments' is configured"
    assert await hook_cues(api_stack) == before


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            b'{"type": "donation.succeeded", "data": {"room": "fz-\\ud800", "amount": 1,'
            b' "currency": "EUR", "donor": "A"}}',
            "UTF-8",
        ),
        (donation(""), "empty"),
        (donation("x" * 300), "at most 256"),
        (b"[" * 10_000 + b"]" * 10_000, "not JSON"),
        (b'{"type": "donation.succeeded", "data": ' + b"9" * 5000 + b"}", "not JSON"),
        (b"\xff\xfe{}", "not JSON"),
    ],
)
async def test_a_signed_delivery_that_makes_no_valid_cue_is_a_422(
    api_stack: Stack, body: bytes, problem: str
) -> None:
    before = await hook_cues(api_stack)
    async with httpx.AsyncClient(base_url=api_stack.url, timeout=10) as c:
        r = await c.post("/hooks/donations", content=body, headers=signed(body))
    assert r.status_code == 422, r.text
    assert problem in r.json()["error"]["message"]
    assert await hook_cues(api_stack) == before  # nothing half-made
