"""Hostile input at every endpoint is a clear 4xx, never a 5xx, and loses nothing.

Property-based: Hypothesis builds bodies that are nested thousands deep, invalid UTF-8, full of
lone surrogates, huge numbers and wrong types, and room names that are empty, too long or
strange; signed hook deliveries carry the same bodies past verification. Beside it, the cases
users meet first: ``curl -d`` without a Content-Type, room names with ``/``, spaces and
non-Latin letters on every path (the agent's catch-up included), and a connection that stays
usable after an error.
"""

from __future__ import annotations

import json
import socket
import time
import urllib.parse
import uuid
from typing import Any

import httpx
import pytest
from gwkit import DONATION_SECRET, Stack, live_agent, room_name, until, wait_cue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livecue._hook_signatures import sign_standard_webhooks

pytestmark = pytest.mark.e2e


# -- hostile pieces ------------------------------------------------------------------------------


def nested(depth: int, leaf: str = "1") -> bytes:
    return ("[" * depth + leaf + "]" * depth).encode()


def nested_objects(depth: int) -> bytes:
    return ('{"a":' * depth + "1" + "}" * depth).encode()


HOSTILE_BYTES = st.one_of(
    st.integers(min_value=1, max_value=50_000).map(nested),
    st.integers(min_value=1, max_value=50_000).map(nested_objects),
    st.binary(max_size=200),  # mostly invalid UTF-8 / not JSON
    st.just(b'{"kind": "say", "text": "\\ud800"}'),
    st.just(b'{"kind": "say", "text": "hi", "data": {"\\udfff": 1}}'),
    st.just(b'{"kind": "say", "text": "hi", "ttl_s": 1e400}'),
    st.just(b'{"kind": "say", "text": "hi", "ttl_s": ' + b"9" * 5000 + b"}"),
    st.just(b'{"kind": "say", "text": "hi", "data": {"n": ' + b"9" * 5000 + b"}}"),
    st.just(b'{"kind": "say", "text": "\xff\xfe"}'),
    st.just(b'{"kind": "say", "text": "hi", "data": ' + nested_objects(40) + b"}"),
)


def json_value() -> st.SearchStrategy[Any]:
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(10**30), max_value=10**30),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=30),
        st.sampled_from(["\ud800", "\udfff", "", "x" * 300, "room/with/slashes"]),
    )
    return st.recursive(
        scalars,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )


FIELDS = [
    "kind", "text", "data", "policy", "coalesce_key", "ttl_s", "allow_interruptions", "id",
    "transport", "agent_name", "rooms", "prefix", "all", "cue", "status", "reason", "said",
    "speech_started_at", "merged_into",
]  # fmt: skip

WRONG_TYPED = st.dictionaries(st.sampled_from(FIELDS), json_value(), max_size=6)


def dumps(value: Any) -> bytes:
    # lone surrogates pass through as \\udxxx escapes, as a hostile client would send them
    return json.dumps(value, ensure_ascii=True).encode()


BODIES = st.one_of(HOSTILE_BYTES, WRONG_TYPED.map(dumps))

ROOMS = st.one_of(
    st.text(min_size=1, max_size=20).filter(lambda s: "\x00" not in s),
    st.sampled_from(["", " ", "x" * 300, "é" * 200, "a/b", "..", "%2F", "\ud800", "\t", "a\nb"]),
)


def quote(segment: str) -> str:
    return urllib.parse.quote(segment.encode("utf-8", "surrogatepass"), safe="")


# -- the property -----------------------------------------------------------------------------


def endpoints(room: str, body: bytes) -> list[tuple[str, str, bytes, dict[str, str]]]:
    r = quote(room)
    signed = {
        **sign_standard_webhooks(
            body, DONATION_SECRET, f"msg_{uuid.uuid4().hex}", int(time.time())
        ),
        "content-type": "application/json",
    }
    return [
        ("POST", f"/v1/rooms/{r}/cues", body, {}),
        ("POST", "/v1/broadcasts", body, {}),
        ("POST", f"/v1/cues/{r}/outcome", body, {}),
        ("GET", f"/v1/cues/{r}", b"", {}),
        ("GET", f"/v1/rooms/{r}/pending", b"", {}),
        ("POST", "/hooks/donations", body, signed),  # signed: the body reaches the parser
        ("POST", f"/hooks/{r}", body, signed),
        ("POST", "/livekit/webhook", body, {"authorization": "not-a-jwt"}),
    ]


def test_no_hostile_request_gets_a_server_error(api_stack: Stack) -> None:
    seen: dict[int, int] = {}
    with httpx.Client(base_url=api_stack.url, headers=api_stack.headers(), timeout=10) as client:

        @given(room=ROOMS, body=BODIES)
        @settings(
            max_examples=60,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        def run(room: str, body: bytes) -> None:
            for method, path, content, headers in endpoints(room, body):
                response = client.request(method, path, content=content, headers=headers)
                seen[response.status_code] = seen.get(response.status_code, 0) + 1
                assert response.status_code < 500, (
                    f"{method} {path[:80]} {content[:80]!r} -> "
                    f"{response.status_code}: {response.text[:300]}"
                )
                if response.status_code >= 400:
                    error = response.json()["error"]  # always the same JSON shape
                    assert error["code"] and error["message"]

        run()
    print(f"answers to hostile requests: {dict(sorted(seen.items()))}")
    assert any(400 <= code < 500 for code in seen)


@pytest.mark.parametrize(
    ("room", "problem"),
    [
        ("x" * 257, "at most 256"),
        ("é" * 129, "at most 256 bytes"),  # 258 bytes in UTF-8, though 129 characters
        ("a\nb", "control characters"),
    ],
)
async def test_room_names_livekit_would_refuse_are_a_422_naming_the_rule(
    api_stack: Stack, room: str, problem: str
) -> None:
    async with api_stack.client() as c:
        r = await c.post(f"/v1/rooms/{quote(room)}/cues", json={"kind": "say", "text": "hi"})
        b = await c.post("/v1/broadcasts", json={"rooms": [room], "cue": {"text": "hi"}})
    for answer in (r, b):
        assert answer.status_code == 422, answer.text
        assert problem in answer.json()["error"]["message"]


async def test_a_lone_surrogate_in_a_room_name_is_a_422(api_stack: Stack) -> None:
    async with api_stack.client() as c:
        r = await c.post(
            "/v1/broadcasts",
            content=b'{"rooms": ["fz-\\ud800"], "cue": {"kind": "say", "text": "hi"}}',
            headers={"content-type": "application/json"},
        )
    assert r.status_code == 422, r.text
    assert "rooms" in r.json()["error"]["message"]


async def test_an_empty_room_name_is_refused(api_stack: Stack) -> None:
    async with api_stack.client() as c:
        r = await c.post("/v1/rooms//cues", json={"kind": "say", "text": "hi"})
        b = await c.post("/v1/broadcasts", json={"rooms": [""], "cue": {"text": "hi"}})
    assert r.status_code in (404, 422) and b.status_code == 422


def test_curl_d_without_a_content_type_is_accepted(api_stack: Stack) -> None:
    """The README's own example, as curl sends it: application/x-www-form-urlencoded."""
    room = room_name()
    body = '{"kind": "reply", "text": "Order 881 has shipped"}'
    for content_type in ("application/x-www-form-urlencoded", None):
        headers = dict(api_stack.headers())
        if content_type:
            headers["content-type"] = content_type
        r = httpx.post(
            f"{api_stack.url}/v1/rooms/{room}/cues", content=body, headers=headers, timeout=10
        )
        assert r.status_code == 202, r.text
        assert r.json()["room"] == room


def test_the_connection_stays_usable_after_an_error(api_stack: Stack) -> None:
    """Three requests on one keep-alive connection: a 400, a 413 and a 202 all answered."""
    host, port = api_stack.url.removeprefix("http://").split(":")
    auth = api_stack.headers()["Authorization"]
    room = room_name()

    def request(body: bytes) -> bytes:
        return (
            f"POST /v1/rooms/{room}/cues HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    with socket.create_connection((host, int(port)), timeout=10) as sock:
        stream = sock.makefile("rb")
        codes = []
        for body in (b"{not json", json.dumps({"text": "x" * 20_000}).encode(), b'{"text": "ok"}'):
            sock.sendall(request(body))
            status = stream.readline().split()[1]
            length = 0
            while (line := stream.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            stream.read(length)
            codes.append(int(status))
    assert codes == [400, 413, 202]


# -- room names with / , spaces and any letters, on every path ----------------------------------


@pytest.mark.parametrize("name", ["support/line 2", "поддержка 東京", "a/b/cues"])
async def test_strange_room_names_work_through_every_http_path(api_stack: Stack, name: str) -> None:
    room = f"{name} {uuid.uuid4().hex[:6]}"
    agent_key = api_stack.key("agent")
    async with live_agent(api_stack.livekit, room) as (observer, agent), api_stack.client() as c:
        r = await c.post(f"/v1/rooms/{quote(room)}/cues", json={"kind": "say", "text": "Hello."})
        assert r.status_code == 202, r.text
        assert r.json()["room"] == room
        final = await wait_cue(c, r.json()["id"])
        assert (final["room"], final["outcome"]) == (room, "applied")
        await observer.wait_for_text("Hello.")

        b = await c.post("/v1/broadcasts", json={"rooms": [room], "cue": {"text": "Again."}})
        assert b.status_code == 202 and b.json()["cues"][0]["room"] == room

        pending = await c.get(
            f"/v1/rooms/{quote(room)}/pending", headers={"Authorization": f"Bearer {agent_key}"}
        )
        assert pending.status_code == 200 and pending.json()["room"] == room
    del agent


async def test_the_agents_catch_up_works_for_a_room_name_with_a_slash(api_stack: Stack) -> None:
    """A data cue held for a room named with ``/`` reaches the agent through its catch-up."""
    room = f"tenant/{uuid.uuid4().hex[:6]} lobby"
    agent_key = api_stack.key("agent")
    async with api_stack.client() as c:
        r = await c.post(
            f"/v1/rooms/{quote(room)}/cues",
            json={"kind": "say", "text": "Caught up.", "transport": "data"},
        )
        cue_id = r.json()["id"]
        await wait_cue(c, cue_id, {"held"}, timeout=5)
        async with live_agent(
            api_stack.livekit, room, gateway_url=api_stack.url, gateway_key=agent_key
        ) as (observer, agent):
            await observer.wait_for_text("Caught up.", timeout=15)
            final = await wait_cue(c, cue_id, timeout=15)

            async def from_catch_up() -> bool:
                return any(e.type == "cue_received" and e.cue.id == cue_id for e in agent.events)

            await until(from_catch_up, timeout=5, what="the agent to have received it")
    assert final["outcome"] == "applied"
