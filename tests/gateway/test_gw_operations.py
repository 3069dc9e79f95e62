"""The operator's API: list, cancel and resend cues; hooks with their deliveries and the
verdict on each; schedules with their next ticks; keys for the admin scope.

A real gateway process on each backend with a real livekit-server; agents where a cue must
reach one.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from gwkit import (
    DONATION_SECRET,
    EXAMPLES,
    Stack,
    live_agent,
    post_cue,
    room_name,
    running_stack,
    wait_cue,
)

from livecue._hook_signatures import sign_standard_webhooks

pytestmark = pytest.mark.integration

CONFIG = (
    (EXAMPLES / "donations.yaml").read_text()
    + """
schedules:
  standup:
    cron: "0 9 * * 1-5"
    timezone: Europe/Berlin
    target: {prefix: "lobby-"}
    cue: {kind: say, text: "Stand-up in five minutes"}
"""
)


@pytest.fixture(scope="module")
def stack(db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    config = tmp_path_factory.mktemp("ops") / "livecue.yaml"
    config.write_text(CONFIG)
    env = {"DONATION_WEBHOOK_SECRET": DONATION_SECRET}
    with running_stack(db=db, config=config, env=env) as s:
        yield s


@pytest.fixture
async def admin(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with stack.client() as c:
        yield c


async def post(c: httpx.AsyncClient, room: str, **body: Any) -> str:
    return await post_cue(c, room, **{"text": "hello", **body})


async def held(c: httpx.AsyncClient, cue_id: str) -> dict[str, Any]:
    return await wait_cue(c, cue_id, {"held"}, timeout=10)


# -- listing ----------------------------------------------------------------------------------


async def test_listing_pages_through_every_cue_newest_first_with_filters(
    admin: httpx.AsyncClient,
) -> None:
    room = room_name("list")
    before = datetime.now(timezone.utc)
    ids = [await post(admin, room, text=f"n{n}") for n in range(7)]
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"room": room, "limit": 3}
        if cursor:
            params["cursor"] = cursor
        r = await admin.get("/v1/cues", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [c["id"] for c in page["cues"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and seen == ids[::-1]  # each once, newest first
    first = (await admin.get("/v1/cues", params={"room": room, "limit": 1})).json()["cues"][0]
    assert (first["text"], first["kind"], first["source"]) == ("n6", "reply", "api")

    window = {"room": room, "created_after": before.isoformat(), "limit": 100}
    assert len((await admin.get("/v1/cues", params=window)).json()["cues"]) == 7
    later = {"room": room, "created_after": datetime.now(timezone.utc).isoformat()}
    assert (await admin.get("/v1/cues", params=later)).json()["cues"] == []
    earlier = {"room": room, "created_before": before.isoformat()}
    assert (await admin.get("/v1/cues", params=earlier)).json()["cues"] == []
    by_state = {"room": room, "state": "cancelled"}
    assert (await admin.get("/v1/cues", params=by_state)).json()["cues"] == []


def _forged_cursor(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "problem"),
    [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"state": "lost"}, "state"),
        ({"source": "email"}, "source"),
        ({"limit": 0}, "limit"),
        ({"created_after": "2026-12-02T10:00:00"}, "offset"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"outcome": "bogus"}, "outcome"),
        ({"room": ""}, "room"),
        ({"room": "lobby\x00"}, "room: must not contain control characters"),
        ({"hook": "pay\x00"}, "hook"),
        ({"outcome": "\x00"}, "outcome"),
        ([("state", "held"), ("state", "queued")], "state: give each filter once"),
        # forged cursors: a number too large for a float, a lone surrogate, not finite
        ({"cursor": _forged_cursor("[" + "9" * 400 + ', "x"]')}, "cursor"),
        ({"cursor": _forged_cursor('[1.5, "\\udcff"]')}, "cursor"),
        ({"cursor": _forged_cursor('[NaN, "x"]')}, "cursor"),
    ],
)
async def test_bad_list_filters_are_422s_that_name_the_filter(
    admin: httpx.AsyncClient, params: Any, problem: str
) -> None:
    r = await admin.get("/v1/cues", params=params)
    assert r.status_code == 422, r.text
    assert problem in r.json()["error"]["message"]


async def test_a_read_key_lists_and_a_send_key_does_not(stack: Stack) -> None:
    async with stack.client(stack.key("read")) as reader, stack.client(stack.key("send")) as s:
        assert (await reader.get("/v1/cues")).status_code == 200
        assert (await s.get("/v1/cues")).status_code == 403


# -- cancel and resend ------------------------------------------------------------------------


async def test_a_held_cue_is_cancelled_once_with_who_and_when(stack: Stack) -> None:
    async with stack.client(stack.key("send", "read")) as c:
        cue_id = await post(c, room_name("cancel"))
        await held(c, cue_id)
        r = await c.delete(f"/v1/cues/{cue_id}")
        assert r.status_code == 200, r.text
        body = r.json()
        key_id = stack.key("send", "read").split("_")[1]
        assert (body["status"], body["final"]) == ("cancelled", True)
        assert body["reason"] == f"cancelled by API key {key_id}"
        assert body["history"][-1]["state"] == "cancelled"
        again = await c.delete(f"/v1/cues/{cue_id}")  # the same answer, nothing new
        assert again.status_code == 200 and again.json()["history"] == body["history"]
        listed = await c.get("/v1/cues", params={"state": "cancelled", "room": body["room"]})
        assert [x["id"] for x in listed.json()["cues"]] == [cue_id]


async def test_a_cue_at_an_agent_cannot_be_cancelled_and_the_409_says_why(
    stack: Stack, admin: httpx.AsyncClient
) -> None:
    room = room_name("cancel")
    async with live_agent(stack.livekit, room):
        cue_id = await post(admin, room, kind="say", text="Too late to stop me.")
        final = await wait_cue(admin, cue_id, timeout=20)
    assert final["status"] == "delivered"
    r = await admin.delete(f"/v1/cues/{cue_id}")
    assert r.status_code == 409
    assert r.json()["error"]["message"] == (
        f"cue {cue_id!r} is final already (delivered) and cannot be cancelled"
    )
    missing = await admin.delete("/v1/cues/no-such-cue")
    assert missing.status_code == 404


async def test_a_data_cue_an_agent_fetched_on_joining_cannot_be_cancelled(
    stack: Stack, admin: httpx.AsyncClient
) -> None:
    room = room_name("fetched")
    cue_id = await post(admin, room, transport="data")
    await held(admin, cue_id)
    async with stack.client(stack.key("agent")) as agent:
        r = await agent.get(f"/v1/rooms/{room}/pending")
    assert [c["id"] for c in r.json()["cues"]] == [cue_id]

    refused = await admin.delete(f"/v1/cues/{cue_id}")

    assert refused.status_code == 409
    assert refused.json()["error"]["message"] == (
        f"cue {cue_id!r} was fetched by an agent joining room {room!r} and may be acted on "
        "at any moment; it cannot be cancelled"
    )
    assert (await admin.get(f"/v1/cues/{cue_id}")).json()["status"] == "held"


async def test_a_resent_cue_is_new_and_names_the_original(admin: httpx.AsyncClient) -> None:
    room = room_name("resend")
    original = await post(admin, room, kind="say", text="Say it again", ttl_s=120)
    await held(admin, original)
    r = await admin.post(f"/v1/cues/{original}/resend")
    assert r.status_code == 202, r.text
    again = r.json()["id"]
    assert again != original and r.json()["room"] == room
    status = (await admin.get(f"/v1/cues/{again}")).json()
    assert status["resent_from"] == original
    assert (status["cue"]["kind"], status["cue"]["text"]) == ("say", "Say it again")
    assert status["cue"]["id"] == again
    lifetime = datetime.fromisoformat(status["cue"]["expires_at"]) - datetime.fromisoformat(
        status["cue"]["created_at"]
    )
    assert lifetime == timedelta(seconds=120)
    assert (await admin.post("/v1/cues/nope/resend")).status_code == 404


# -- hooks ------------------------------------------------------------------------------------


def donation(room: str, kind: str = "donation.succeeded", **data: Any) -> bytes:
    fields = {"room": room, "amount": 5, "currency": "EUR", "donor": "Ada", **data}
    return json.dumps({"type": kind, "data": fields}).encode()


def signed(body: bytes, msg_id: str, *, at: float | None = None) -> dict[str, str]:
    headers = sign_standard_webhooks(body, DONATION_SECRET, msg_id, int(at or time.time()))
    return {**headers, "content-type": "application/json"}


async def test_every_hook_delivery_is_listed_with_its_verdict(stack: Stack) -> None:
    room = room_name("hook")
    good = donation(room)
    msg = f"msg_{uuid.uuid4().hex}"
    sends = [
        (good, signed(good, msg), 202),  # accepted
        (good, signed(good, msg), 200),  # replay
        (good, {**signed(good, "msg_x"), "webhook-signature": "v1,AAAA"}, 401),  # bad signature
        (good, signed(good, "msg_old", at=time.time() - 3600), 401),  # stale
        (
            donation(room, "donation.refunded"),
            signed(donation(room, "donation.refunded"), "m2"),
            200,
        ),
        (b'{"type": "donation.succeeded", "data": {}}', None, 422),  # template error
    ]
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as outside:
        for body, headers, status in sends:
            headers = headers or signed(body, f"msg_{uuid.uuid4().hex}")
            r = await outside.post("/hooks/donations", content=body, headers=headers)
            assert r.status_code == status, r.text
    async with stack.client(stack.key("read")) as reader, stack.client() as admin:
        hooks = await reader.get("/v1/hooks")
        assert [h["name"] for h in hooks.json()] == ["donations"]
        assert DONATION_SECRET not in hooks.text
        page = (await reader.get("/v1/hooks/donations/deliveries", params={"limit": 6})).json()
        verdicts = [d["result"] for d in page["deliveries"]]
        assert verdicts == [
            "template_error",
            "filtered",
            "stale",
            "bad_signature",
            "replay",
            "accepted",
        ]
        accepted, replay = page["deliveries"][-1], page["deliveries"][-2]
        assert accepted["delivery_id"] == replay["delivery_id"] == msg
        assert accepted["cue_id"] == replay["cue_id"] and accepted["cue_id"]
        assert page["deliveries"][0]["reason"] == "the payload has no field 'payload.data.room'"
        assert all(d["body"] is None for d in page["deliveries"])  # not unless asked
        assert (
            await reader.get("/v1/hooks/donations/deliveries", params={"body": "true"})
        ).status_code == 403
        with_bodies = await admin.get(
            "/v1/hooks/donations/deliveries", params={"body": "true", "limit": 6}
        )
        assert with_bodies.json()["deliveries"][-1]["body"] == good.decode()
        assert (await reader.get("/v1/hooks/nope/deliveries")).status_code == 404


# -- schedules --------------------------------------------------------------------------------


async def test_a_schedule_shows_its_last_tick_and_the_next_five(
    admin: httpx.AsyncClient,
) -> None:
    [standup] = (await admin.get("/v1/schedules")).json()

    # the last tick it fired, not when the gateway started: none yet, unless this ran at 9:00
    last = standup["last_tick"]
    if last is not None:
        fired = datetime.fromisoformat(last).astimezone(ZoneInfo("Europe/Berlin"))
        assert (fired.hour, fired.minute, fired.second) == (9, 0, 0), last
    assert (standup["name"], standup["cron"], standup["timezone"]) == (
        "standup",
        "0 9 * * 1-5",
        "Europe/Berlin",
    )
    assert standup["target"] == {"room": None, "prefix": "lobby-", "all": False}
    ticks = [datetime.fromisoformat(t) for t in standup["next_ticks"]]
    assert len(ticks) == 5 and ticks == sorted(ticks) and ticks[0] > datetime.now(timezone.utc)
    berlin = [t.astimezone(ZoneInfo("Europe/Berlin")) for t in ticks]
    assert {(t.hour, t.minute) for t in berlin} == {(9, 0)}
    assert all(t.weekday() < 5 for t in berlin) and len({t.date() for t in berlin}) == 5


# -- keys -------------------------------------------------------------------------------------


async def test_keys_are_created_once_listed_without_secrets_and_revoked(
    stack: Stack, admin: httpx.AsyncClient
) -> None:
    r = await admin.post("/v1/keys", json={"scopes": ["send", "read"], "name": "crm"})
    assert r.status_code == 201, r.text
    created = r.json()
    token = created["key"]
    assert token.startswith(f"lck_{created['id']}_")
    listed = await admin.get("/v1/keys")
    assert created["id"] in [k["id"] for k in listed.json()]
    assert token.split("_")[-1] not in listed.text
    async with stack.client(token) as crm:
        assert (await crm.get("/v1/cues")).status_code == 200
        assert (await crm.get("/v1/keys")).status_code == 403  # admin only
        revoked = await admin.delete(f"/v1/keys/{created['id']}")
        assert revoked.status_code == 200 and revoked.json()["revoked_at"]
        after = await crm.get("/v1/cues")
    assert after.status_code == 401  # at once: this instance dropped it from its cache
    assert (await admin.delete("/v1/keys/nope")).status_code == 404
    bad = await admin.post("/v1/keys", json={"scopes": ["root"]})
    assert bad.status_code == 422
    off = await admin.post("/v1/keys", json={"scopes": ["send"], "callback_url": "https://x.test/"})
    assert off.status_code == 422 and "callbacks are off" in off.json()["error"]["message"]


async def test_a_delivery_with_nul_bytes_is_logged_on_every_backend(stack: Stack) -> None:
    body = b'{"type": "donation.succeeded", "data": {"room": "a\x00b"}}\x00'
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as outside:
        r = await outside.post("/hooks/donations", content=body, headers=signed(body, "m-nul"))
    assert r.status_code == 422, r.text
    async with stack.client() as admin:
        page = await admin.get("/v1/hooks/donations/deliveries", params={"body": "true"})
    latest = page.json()["deliveries"][0]
    assert latest["result"] == "invalid" and latest["body"] == body.decode().replace("\x00", "�")
