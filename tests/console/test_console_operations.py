"""An operator's work in the console, in Chromium, against real parts: a livekit-server, a
``livecue serve`` process and a real AgentSession (scripted model) — cues sent, followed live
to the agent's words, cancelled, resent; keys created and revoked; every page looked at on a
laptop and a phone, by mouse and by keyboard.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from consolekit import Console, shoot, sideways, signed_in
from gwkit import DONATION_SECRET, Stack, live_agent, room_name, until
from playwright.async_api import Page, expect

from harness.gateway import GatewayProcess
from livecue._hook_signatures import sign_standard_webhooks

pytestmark = [pytest.mark.console, pytest.mark.e2e, pytest.mark.asyncio(loop_scope="module")]

LIVE_S = 20_000  # ms: how long a live page may take to show a change (a loaded machine)
XSS = '<script>alert(1)</script><img src=x onerror="alert(2)">'


async def send_from_rooms_page(page: Page, room: str, text: str, kind: str = "reply") -> str:
    """Fill and submit the rooms page's form; returns the new cue's id (its page is open)."""
    await page.goto("/console/rooms")
    await page.get_by_label("Room", exact=True).fill(room)
    await page.get_by_label("Kind").select_option(kind)
    await page.get_by_label("Text").fill(text)
    await page.get_by_role("button", name="Send the cue").click()
    await page.wait_for_url("**/console/cues/*")
    return page.url.rsplit("/", 1)[1]


async def api_status(stack: Stack, cue_id: str) -> dict[str, object]:
    async with stack.client() as api:
        r = await api.get(f"/v1/cues/{cue_id}")
        assert r.status_code == 200, r.text
        body: dict[str, object] = r.json()
        return body


async def test_a_cue_sent_from_the_rooms_page_reaches_applied_in_the_live_list(
    stack: Stack, console: Console
) -> None:
    room = room_name("console")
    async with live_agent(stack.livekit, room) as (observer, _agent):
        cues = await console.sign_in(stack.admin_key, f"/console/cues?room={room}")
        await expect(cues.locator("[data-live-status]")).to_contain_text("Live")
        await cues.evaluate("window.notReloaded = true")

        rooms = await console.page()

        async def room_is_listed() -> bool:
            await rooms.goto("/console/rooms")
            return await rooms.get_by_role("row").filter(has_text=room).count() == 1

        await until(room_is_listed, timeout=15, interval=0.5, what=f"room {room} listed")
        row = rooms.get_by_role("row").filter(has_text=room)
        await expect(row).to_contain_text("agent")  # the agent's identity
        await shoot(rooms, "rooms")
        await row.get_by_role("link", name="Send a cue").click()
        assert await rooms.get_by_label("Room", exact=True).input_value() == room
        await rooms.get_by_label("Text").fill("The parcel for order 881 has shipped")
        await rooms.get_by_role("button", name="Send the cue").click()
        await rooms.wait_for_url("**/console/cues/*")
        cue_id = rooms.url.rsplit("/", 1)[1]

        # the list, opened before the cue existed, shows it arrive and reach applied
        listed = cues.locator(f'tr[data-cue="{cue_id}"]')
        await expect(listed.locator(".cue-outcome")).to_have_text("applied", timeout=LIVE_S)
        await expect(listed.locator(".cue-state")).to_have_text("delivered")
        await expect(listed.locator(".said")).to_contain_text("order 881 has shipped")
        assert await cues.evaluate("window.notReloaded") is True, "the list page was reloaded"
        await shoot(cues, "cues")

        # the cue's page followed it too: the agent's words and the whole timeline
        said = rooms.locator("#cue-said")
        await expect(said).to_contain_text("order 881 has shipped", timeout=LIVE_S)
        await expect(rooms.locator("#cue-state")).to_have_text("delivered")
        heard = await observer.wait_for_text("order 881 has shipped", timeout=10)
        status = await api_status(stack, cue_id)
        receipt = status["receipt"]
        assert isinstance(receipt, dict)
        assert await said.inner_text() == receipt["said"]
        assert receipt["said"].strip() == heard.text.strip()
        timeline = await rooms.locator(".timeline li").all_inner_texts()
        assert [t.split(" UTC ", 1)[1].split()[0] for t in timeline] == [
            "queued",
            "sending",
            "at_agent",
            "delivered",
        ]
        assert "applied" in timeline[-1]
        await shoot(rooms, "cue")


async def test_a_held_cue_is_cancelled_then_resent_from_its_page(
    stack: Stack, console: Console
) -> None:
    room = room_name("nobody")  # no agent, no room: the cue is held
    page = await console.sign_in(stack.admin_key)
    cue_id = await send_from_rooms_page(page, room, "Your table is ready", kind="say")
    await expect(page.locator("#cue-state")).to_have_text("held", timeout=LIVE_S)
    await shoot(page, "cue-held")
    await page.get_by_role("button", name="Cancel this cue").click()
    await expect(page.locator("#cue-state")).to_have_text("cancelled")
    await expect(page.get_by_role("button", name="Cancel this cue")).to_have_count(0)
    status = await api_status(stack, cue_id)
    assert (status["status"], status["final"]) == ("cancelled", True)
    history = status["history"]
    assert isinstance(history, list)
    assert history[-1]["state"] == "cancelled"
    assert "the console" in history[-1]["reason"]
    assert stack.admin_key.split("_")[1] in history[-1]["reason"]

    await page.get_by_role("button", name="Resend as a new cue").click()
    await page.wait_for_url(lambda url: cue_id not in url)
    resent_id = page.url.rsplit("/", 1)[1]
    await expect(page.get_by_role("link", name=cue_id)).to_be_visible()
    resent = await api_status(stack, resent_id)
    assert resent["resent_from"] == cue_id
    assert resent["cue"]["text"] == "Your table is ready"  # type: ignore[index]
    await expect(page.locator("#cue-state")).to_have_text("held", timeout=LIVE_S)
    await page.get_by_role("button", name="Cancel this cue").click()
    await expect(page.locator("#cue-state")).to_have_text("cancelled")


async def test_a_new_key_is_shown_once_and_revoked_after_confirmation(
    stack: Stack, console: Console
) -> None:
    page = await console.sign_in(stack.admin_key, "/console/keys")
    await page.get_by_label("Name").fill("billing backend")
    await page.get_by_label("read").check()
    await page.get_by_role("button", name="Create the key").click()
    token = await page.locator("#new-key").input_value()
    assert token.startswith("lck_")
    key_id = token.split("_")[1]
    await shoot(page, "key-created")
    read = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=stack.url, headers=read, timeout=10) as api:
        assert (await api.get("/v1/cues")).status_code == 200

        await page.get_by_role("link", name="Back to the keys").click()
        assert token.split("_", 2)[2] not in await page.content()  # shown once, only then
        row = page.locator(f'tr[data-key="{key_id}"]')
        await expect(row).to_contain_text("billing backend")
        await row.get_by_role("link", name="Revoke").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text(f"Revoke key {key_id}?")
        await shoot(page, "key-revoke")
        assert (await api.get("/v1/cues")).status_code == 200  # asking is not revoking

        await page.get_by_role("button", name=f"Yes, revoke key {key_id}").click()
        await expect(page.get_by_role("status")).to_contain_text(f"Key {key_id} is revoked")
        await expect(row.get_by_role("link", name="Revoke")).to_have_count(0)
        r = await api.get("/v1/cues")
        assert r.status_code == 401, r.text
        await shoot(page, "keys")


async def test_revoking_the_signed_in_key_ends_its_sessions(stack: Stack, console: Console) -> None:
    async with stack.client() as api:
        r = await api.post("/v1/keys", json={"name": "night shift", "scopes": ["admin"]})
        assert r.status_code == 201, r.text
        created = r.json()
        page = await console.sign_in(created["key"], "/console/cues")
        await expect(page.locator("[data-live-status]")).to_contain_text("Live")
        assert (await api.delete(f"/v1/keys/{created['id']}")).status_code == 200
    # the open page's live stream ends, the browser is told to stop, the page sends it to
    # sign in: nobody clicked anything
    await page.wait_for_url("**/console/sign-in?next=*", timeout=LIVE_S)
    await page.goto("/console/keys")
    assert "/console/sign-in" in page.url


async def test_cue_text_with_markup_shows_as_text_also_when_it_arrives_live(
    stack: Stack, console: Console
) -> None:
    room = room_name("xss")
    page = await console.sign_in(stack.admin_key, f"/console/cues?room={room}")
    await expect(page.locator("[data-live-status]")).to_contain_text("Live")
    async with stack.client() as api:
        r = await api.post(f"/v1/rooms/{room}/cues", json={"kind": "say", "text": XSS})
        assert r.status_code == 202, r.text
        cue_id = r.json()["id"]
    row = page.locator(f'tr[data-cue="{cue_id}"]')
    await expect(row.locator(".text")).to_have_text(XSS, timeout=LIVE_S)
    assert await row.locator("img, script").count() == 0
    await page.goto(f"/console/cues/{cue_id}")
    await expect(page.locator("#cue-state")).to_have_text("held", timeout=LIVE_S)
    assert await page.locator("#cue-text").inner_text() == XSS
    assert await page.locator("main img, main script").count() == 0
    await page.get_by_text("The cue as stored").click()
    assert XSS.replace('"', '\\"') in await page.locator("pre").inner_text()  # as JSON
    await page.get_by_role("button", name="Cancel this cue").click()
    await expect(page.locator("#cue-state")).to_have_text("cancelled")
    # (the console fixture fails the test if any dialog opened or a script errored)


async def deliver_donations(stack: Stack, room: str) -> None:
    """One donation that verifies (a cue, held: no agent) and one that does not."""
    body = json.dumps(
        {
            "type": "donation.succeeded",
            "data": {"room": room, "amount": 25, "currency": "EUR", "donor": "Ada <b>"},
        }
    ).encode()
    headers = sign_standard_webhooks(
        body, DONATION_SECRET, f"msg_{uuid.uuid4().hex}", int(time.time())
    )
    async with httpx.AsyncClient(base_url=stack.url, timeout=10) as c:
        r = await c.post("/hooks/donations", content=body, headers=headers)
        assert r.status_code == 202, r.text
        forged = {**headers, "webhook-signature": "v1,bm90IGEgc2lnbmF0dXJl"}
        r = await c.post("/hooks/donations", content=body, headers=forged)
        assert r.status_code == 401, r.text


async def test_every_page_renders_without_javascript_errors(stack: Stack, console: Console) -> None:
    await deliver_donations(stack, room_name("donations"))
    page = await console.sign_in(stack.admin_key)
    await expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    assert await page.locator("figure.chart svg").count() == 1
    await expect(page.get_by_role("heading", name="Cues by state")).to_be_visible()
    await shoot(page, "overview")

    await page.goto("/console/hooks")
    deliveries = page.get_by_role("region", name="Deliveries to donations")
    await expect(deliveries).to_contain_text("accepted")
    await expect(deliveries).to_contain_text("bad_signature")
    assert "Ada &lt;b&gt;" not in await page.content()  # bodies stay hidden until asked for
    await shoot(page, "hooks")
    await page.get_by_role("link", name="Every delivery to donations").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Deliveries to donations")
    await shoot(page, "hook")
    await page.get_by_role("link", name="Show body").first.click()
    await expect(page.locator("pre.body")).to_contain_text('"donor": "Ada <b>"')
    await shoot(page, "hook-delivery")
    await page.get_by_role("link", name="Deliveries to donations").click()
    await page.get_by_role("row").filter(has_text="accepted").get_by_role("link").first.click()
    await expect(page.locator("#cue-text")).to_have_text("A donation of 25 EUR from Ada <b>")

    await page.goto("/console/schedules")
    schedule = page.get_by_role("region", name="opening-hours")
    await expect(schedule).to_contain_text("0 9 * * 1-5")
    await expect(schedule).to_contain_text("Europe/Berlin")
    await expect(schedule.locator(".ticks li")).to_have_count(5)
    await shoot(page, "schedules")

    for path, heading, name in [
        ("/console/cues", "Cues", None),
        ("/console/rooms", "Rooms", None),
        ("/console/keys", "API keys", None),
        ("/console/no-such-page", "Not Found", "not-found"),
    ]:
        await page.goto(path)
        await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        if name:
            await shoot(page, name)
    signed_out = await console.page()
    await signed_out.context.clear_cookies()
    await signed_out.goto("/console/")
    await shoot(signed_out, "sign-in")


async def test_a_phone_screen_shows_every_main_page_without_sideways_scrolling(
    stack: Stack, browser: object
) -> None:
    phone = await Console.open_in(browser, stack.url, phone=True)  # type: ignore[arg-type]
    try:
        page = await phone.sign_in(stack.admin_key)
        for path in [
            "/console/",
            "/console/cues",
            "/console/rooms",
            "/console/hooks",
            "/console/schedules",
            "/console/keys",
        ]:
            await page.goto(path)
            assert await sideways(page) is None
            await shoot(page, "phone-" + (path.removeprefix("/console").strip("/") or "overview"))
        # a cue's page too (with long, unbroken text)
        async with stack.client() as api:
            r = await api.post(
                f"/v1/rooms/{room_name('phone')}/cues", json={"kind": "say", "text": "x" * 300}
            )
            cue_id = r.json()["id"]
        await page.goto(f"/console/cues/{cue_id}")
        await expect(page.locator("#cue-state")).to_have_text("held", timeout=LIVE_S)
        assert await sideways(page) is None
        await shoot(page, "phone-cue")
        await page.get_by_role("button", name="Cancel this cue").click()
    finally:
        await phone.close()
    assert phone.problems == []


async def test_the_keyboard_reaches_the_send_form_and_submits_it(
    stack: Stack, console: Console
) -> None:
    page = await console.sign_in(stack.admin_key, "/console/rooms")
    await page.goto("/console/rooms")  # fresh: focus at the top of the page
    await page.keyboard.press("Tab")
    focused = page.locator(":focus")
    await expect(focused).to_have_text("Skip to content")
    await page.keyboard.press("Enter")
    await expect(page.locator("main")).to_be_focused()

    async def tab_to(selector: str, limit: int = 30) -> None:
        for _ in range(limit):
            await page.keyboard.press("Tab")
            if await page.locator(selector).evaluate("el => el === document.activeElement"):
                outline = await page.locator(selector).evaluate(
                    "el => getComputedStyle(el).outlineStyle"
                )
                assert outline != "none", f"{selector} shows no focus"
                return
        raise AssertionError(f"{limit} Tabs did not reach {selector}")

    room = room_name("keys")
    await tab_to("#s-room")
    await page.keyboard.type(room)
    await tab_to("#s-text")
    await page.keyboard.type("Typed without a mouse")
    await tab_to("#send-button")
    await page.keyboard.press("Enter")
    await page.wait_for_url("**/console/cues/*")
    await expect(page.locator("#cue-text")).to_have_text("Typed without a mouse")
    await expect(page.locator("#cue-state")).to_have_text("held", timeout=LIVE_S)
    await tab_to("#cancel")
    await page.keyboard.press("Enter")
    await expect(page.locator("#cue-state")).to_have_text("cancelled")


async def test_stopping_the_gateway_ends_the_open_live_streams(stack: Stack) -> None:
    """An open console page must not hold up a gateway's graceful stop."""
    gateway = GatewayProcess(stack.livekit)
    admin = gateway.create_key("admin")
    gateway.start()
    try:
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as c:
            await signed_in(c, admin)
            async with c.stream("GET", "/console/events") as stream:
                assert stream.headers["content-type"].startswith("text/event-stream")
                lines = stream.aiter_lines()
                assert await anext(lines) == "retry: 2000"
                gateway.stop()  # SIGTERM, and wait
                rest = [line async for line in lines]
        assert all(not line.startswith("event:") for line in rest)
        log = gateway.log_tail(200)
        # otherwise uvicorn waits out its grace for the stream, cancels it and says so
        assert "graceful shutdown exceeded" not in log, log
        assert "gateway stopped" in log
    finally:
        gateway.close()
