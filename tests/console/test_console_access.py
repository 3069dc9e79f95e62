"""Who gets into the console, and what a browser is told to do with it: sign-in with an admin
key, the session cookie, redirects without a session, CSRF on every form, security headers.

Real processes: livekit-server, ``livecue serve``, Chromium.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.parse

import httpx
import pytest
from consolekit import Console, shoot, signed_in
from gwkit import Stack, room_name, wait_cue

pytestmark = [pytest.mark.console, pytest.mark.asyncio(loop_scope="module")]

PAGES = [
    "/console/",
    "/console/cues",
    "/console/cues?room=a%20room&state=held",
    "/console/cues/some-cue",
    "/console/rooms",
    "/console/hooks",
    "/console/hooks/donations",
    "/console/hooks/donations/deliveries/1",
    "/console/schedules",
    "/console/keys",
    "/console/keys/some-key/revoke",
]
FORMS = [
    "/console/sign-out",
    "/console/cues/some-cue/cancel",
    "/console/cues/some-cue/resend",
    "/console/rooms/send",
    "/console/keys",
    "/console/keys/some-key/revoke",
]


def client(stack: Stack) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.url, timeout=10.0, follow_redirects=False)


async def test_without_a_session_every_page_redirects_to_sign_in(stack: Stack) -> None:
    async with client(stack) as c:
        for path in PAGES:
            r = await c.get(path)
            assert r.status_code == 303, (path, r.status_code)
            target = urllib.parse.urlsplit(r.headers["location"])
            assert target.path == "/console/sign-in"
            assert urllib.parse.parse_qs(target.query)["next"] == [path]
        for path in FORMS:
            r = await c.post(path, data={"csrf": "x"})
            assert r.status_code == 303, (path, r.status_code)
            assert r.headers["location"].startswith("/console/sign-in?")
        # a cookie that is not a session (forged, or from another gateway) is no session
        c.cookies.set("livecue_console", "WyJrIiwicyIsOTk5OTk5OTk5OV0.forged", path="/console")
        r = await c.get("/console/")
        assert r.status_code == 303
        # the console's live stream tells a browser without a session to stop (204)
        assert (await c.get("/console/events")).status_code == 204


async def test_sign_in_returns_to_the_page_asked_for_and_never_off_site(
    stack: Stack, console: Console
) -> None:
    page = await console.sign_in(stack.admin_key, "/console/cues?room=lobby")
    assert page.url == f"{stack.url}/console/cues?room=lobby"
    assert await page.get_by_label("Room", exact=True).input_value() == "lobby"

    async with client(stack) as c:
        r = await c.post(
            "/console/sign-in", data={"key": stack.admin_key, "next": "https://evil.example/"}
        )
        assert (r.status_code, r.headers["location"]) == (303, "/console/")
    async with client(stack) as c:
        r = await c.get("/console/sign-in", params={"next": "//evil.example/console"})
        assert 'name="next" value="/console/"' in r.text


async def test_the_session_cookie_is_http_only_strict_expiring_and_holds_no_secret(
    stack: Stack, console: Console
) -> None:
    signed_at = time.time()
    await console.sign_in(stack.admin_key)
    cookies = [c for c in await console.context.cookies() if c["name"] == "livecue_console"]
    assert len(cookies) == 1
    cookie = cookies[0]
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["path"] == "/console"
    assert cookie["secure"] is False  # plain HTTP here; over HTTPS the cookie is Secure
    assert cookie["expires"] == pytest.approx(signed_at + 8 * 3600, abs=60)  # the default 8 h
    _, key_id, secret = stack.admin_key.split("_", 2)
    # what it holds, signed: the key's id, a session id and the expiry; never the secret
    payload = cookie["value"].split(".")[0]
    held = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert held[0] == key_id
    assert held[2] == pytest.approx(signed_at + 8 * 3600, abs=60)
    assert secret not in cookie["value"] and secret not in json.dumps(held)

    async with client(stack) as c:
        r = await c.post("/console/sign-in", data={"key": stack.admin_key})
        header = r.headers["set-cookie"]
        assert "HttpOnly" in header
        assert "SameSite=strict" in header
        assert "Max-Age=28800" in header
        assert "expires=" in header.lower()
        assert "Secure" not in header
        # behind a TLS proxy (uvicorn trusts X-Forwarded-Proto from loopback), it is Secure
        r = await c.post(
            "/console/sign-in",
            data={"key": stack.admin_key},
            headers={"X-Forwarded-Proto": "https"},
        )
        assert "Secure" in r.headers["set-cookie"]


async def test_a_bad_key_and_a_non_admin_key_are_refused(stack: Stack, console: Console) -> None:
    page = await console.page()
    await page.goto("/console/sign-in")
    for key, message in [
        ("not a key", "That is not an API key"),
        ("lck_0123456789abcdef_wrongsecret", "That key is unknown or revoked."),
        (stack.admin_key[:-3] + "xyz", "That key is unknown or revoked."),
        (stack.key("send", "read"), "That key lacks the admin scope"),
    ]:
        await page.get_by_label("Admin API key").fill(key)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_load_state()
        assert page.url.endswith("/console/sign-in")
        assert message in await page.get_by_role("alert").inner_text()
    await shoot(page, "sign-in-refused")
    assert await console.context.cookies() == []
    response = await page.goto("/console/")
    assert response is not None and "/console/sign-in" in page.url


async def test_sign_out_ends_the_session(stack: Stack, console: Console) -> None:
    page = await console.sign_in(stack.admin_key)
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url("**/console/sign-in?signed_out=1")
    assert "You are signed out." in await page.get_by_role("status").inner_text()
    assert await console.context.cookies() == []
    await page.goto("/console/keys")
    assert "/console/sign-in" in page.url


async def test_a_form_without_its_csrf_token_is_refused(stack: Stack, console: Console) -> None:
    room = room_name("csrf")
    page = await console.sign_in(stack.admin_key, "/console/rooms")
    # the browser submits the real form with its token taken out
    await page.get_by_label("Room", exact=True).fill(room)
    await page.get_by_label("Text").fill("Should never be sent")
    await page.locator("#send-form input[name=csrf]").evaluate("input => input.remove()")
    await page.get_by_role("button", name="Send the cue").click()
    await page.wait_for_load_state()
    assert await page.get_by_role("heading", level=1).inner_text() == "Forbidden"
    assert "security token is missing" in await page.get_by_role("alert").inner_text()
    await shoot(page, "csrf-refused")

    async with client(stack) as c:
        token = await signed_in(c, stack.admin_key)
        form = {"room": room, "text": "Should never be sent either"}
        for refused in ({**form}, {**form, "csrf": "0" * 64}, {**form, "csrf": token[:-1]}):
            r = await c.post("/console/rooms/send", data=refused)
            assert r.status_code == 403, r.text
            assert "text/html" in r.headers["content-type"]
        # a token of another session is refused too
        async with client(stack) as other:
            foreign = await signed_in(other, stack.admin_key)
        r = await c.post("/console/rooms/send", data={**form, "csrf": foreign})
        assert r.status_code == 403
        r = await c.post(
            "/console/keys/" + stack.admin_key.split("_")[1] + "/revoke", data={"csrf": ""}
        )
        assert r.status_code == 403
    async with stack.client() as api:
        listed = (await api.get("/v1/cues", params={"room": room})).json()["cues"]
        assert listed == []
        assert (await api.get("/v1/keys")).status_code == 200  # the admin key still works

        # a script sends the token in a header instead of a form field
        r = await api.post(f"/v1/rooms/{room}/cues", json={"text": "Held, then cancelled"})
        cue_id = r.json()["id"]
        await wait_cue(api, cue_id, {"held"})  # no agent: held, which can be cancelled
        async with client(stack) as c:
            token = await signed_in(c, stack.admin_key)
            r = await c.post(f"/console/cues/{cue_id}/cancel", headers={"X-CSRF-Token": "0"})
            assert r.status_code == 403
            r = await c.post(f"/console/cues/{cue_id}/cancel", headers={"X-CSRF-Token": token})
            assert (r.status_code, r.headers["location"]) == (303, f"/console/cues/{cue_id}")
        assert (await api.get(f"/v1/cues/{cue_id}")).json()["status"] == "cancelled"


async def test_pages_carry_security_headers_and_no_inline_script(stack: Stack) -> None:
    async with client(stack) as c:
        await signed_in(c, stack.admin_key)
        for path in ["/console/", "/console/cues", "/console/rooms", "/console/keys"]:
            r = await c.get(path)
            assert r.status_code == 200
            csp = r.headers["content-security-policy"]
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp
            assert "frame-ancestors 'none'" in csp
            assert r.headers["x-frame-options"] == "DENY"
            assert r.headers["referrer-policy"] == "same-origin"
            assert r.headers["cache-control"] == "no-store"
            assert re.findall(r"<script(?![^>]*\bsrc=)", r.text) == []
            assert ' style="' not in r.text
        # the console's errors are pages, not the API's JSON
        r = await c.get("/console/cues/no-such-cue")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("text/html")
        assert "no cue with id" in r.text
        r = await c.get("/console/no-such-page")
        assert (r.status_code, r.headers["content-type"][:9]) == (404, "text/html")
