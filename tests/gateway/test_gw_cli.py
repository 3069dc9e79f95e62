"""The ``livecue`` command through the gateway, run as a real process against a real
``livecue serve``, a real livekit-server and a real AgentSession (scripted model).

The command gets no LiveKit credentials at all: only the gateway's URL and an API key.
Status callbacks go to a real HTTP receiver on loopback. On SQLite (the command speaks
HTTP; the databases are the API tests' business).
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
from gwkit import Stack, live_agent, make_stack, room_name

from livecue import Client
from livecue.gateway.schemas import CueStatus

pytestmark = pytest.mark.e2e

LIVECUE = Path(sys.executable).parent / "livecue"


@dataclass
class Ran:
    code: int
    out: str
    err: str


class _Receiver(BaseHTTPRequestHandler):
    """Takes every status callback with a 204 and remembers its event type."""

    events: ClassVar[list[str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.events.append(json.loads(body)["type"])
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass


@pytest.fixture(scope="module")
def receiver() -> Iterator[str]:
    """A real HTTP server on loopback for status callbacks; its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="module")
def stack(receiver: str) -> Iterator[Stack]:
    secret = "whsec_" + base64.b64encode(os.urandom(24)).decode()
    s = make_stack(
        env={
            "LIVECUE_RATE_PER_ROOM": "1000000",
            "LIVECUE_RATE_PER_KEY": "1000000",
            "LIVECUE_CALLBACK_ALLOW": f"{receiver}/hooks/",
            "LIVECUE_CALLBACK_SECRET": secret,
        }
    )
    try:
        yield s
    finally:
        s.close()


def base_env() -> dict[str, str]:
    """The environment without LiveKit's or livecue's settings (PYTHONPATH and the like
    stay), outside any .env file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "LIVECUE_"))}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@pytest.fixture
def env(stack: Stack) -> dict[str, str]:
    """The gateway's URL and an admin key, as the variables a user would set."""
    return {**base_env(), "LIVECUE_GATEWAY_URL": stack.url, "LIVECUE_API_KEY": stack.admin_key}


async def run(*args: str, env: dict[str, str], cwd: Path, timeout: float = 60) -> Ran:
    """Run ``livecue`` while this test's event loop keeps the agent going."""
    proc = await asyncio.create_subprocess_exec(
        str(LIVECUE),
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


def one_error(ran: Ran, code: int, message: str) -> None:
    """Exactly one line on stderr, this one, no traceback, and the exit code."""
    assert "Traceback" not in ran.err
    assert (ran.code, ran.err) == (code, f"error: {message}\n"), ran


def status(stack: Stack, cue_id: str) -> CueStatus:
    with Client(stack.url, stack.admin_key) as c:
        return c.get(cue_id)


async def until_status(stack: Stack, cue_id: str, check: str, timeout: float = 15) -> CueStatus:
    deadline = time.monotonic() + timeout
    while True:
        got = await asyncio.to_thread(status, stack, cue_id)
        if got.status == check:
            return got
        assert time.monotonic() < deadline, f"cue {cue_id} not {check}: {got.status}"
        await asyncio.sleep(0.1)


# -- with a real agent ------------------------------------------------------------------


async def test_send_waits_for_the_outcome_and_the_agent_s_words(
    stack: Stack, env: dict[str, str], receiver: str, tmp_path: Path
) -> None:
    room = room_name("cli")
    async with live_agent(stack.livekit, room):
        said = await run(
            "send", room, "Order 881 has shipped.", "--kind", "say", "--wait", "20",
            "--id", "cli-say-1", "--callback-url", f"{receiver}/hooks/cues",
            env=env, cwd=tmp_path,
        )  # fmt: skip
        assert said == Ran(
            0,
            f"✓ {room}: delivered (applied) (cue cli-say-1)\n"
            "  the agent said: Order 881 has shipped.\n",
            "",
        )

        # --gateway instead of the variable, and --json: the API's own record of the cue
        no_url = {k: v for k, v in env.items() if k != "LIVECUE_GATEWAY_URL"}
        replied = await run(
            "send", room, "A donation of $100 arrived", "--wait", "20", "--json",
            "--gateway", stack.url, env=no_url, cwd=tmp_path,
        )  # fmt: skip
        assert (replied.code, replied.err) == (0, ""), replied
        record = json.loads(replied.out)
        assert (record["status"], record["outcome"], record["final"]) == (
            "delivered",
            "applied",
            True,
        )
        assert record["receipt"]["said"] == "Update: A donation of $100 arrived."
        assert record["room"] == room and record["cue"]["kind"] == "reply"

        rooms = await run("rooms", env=env, cwd=tmp_path)
        assert rooms.code == 0 and rooms.err == ""
        assert re.search(rf"^{re.escape(room)}\s+2\s+agent\s*$", rooms.out, re.MULTILINE), rooms
        listed = json.loads((await run("rooms", "--json", env=env, cwd=tmp_path)).out)
        assert {"name": room, "participants": 2, "agents": ["agent"]} in listed

        # one broadcast: the room with the agent gets it; a room without one ends expired
        empty = room_name("cli-empty")
        both = await run(
            "broadcast", "We close in ten minutes.", "--rooms", f"{room},{empty}", "--kind",
            "say", "--ttl", "2", "--wait", "20", env=env, cwd=tmp_path,
        )  # fmt: skip
    assert both.code == 1 and both.err == "", both
    lines = both.out.splitlines()
    assert re.match(r"^room\s+result\s+the agent said, or why not$", lines[0]), lines
    assert re.search(
        rf"^{re.escape(room)}\s+delivered \(applied\)\s+We close in ten minutes\.$",
        both.out,
        re.MULTILINE,
    ), both.out
    assert re.search(
        rf"^{re.escape(empty)}\s+expired\s+expired: room '{re.escape(empty)}' did not exist",
        both.out,
        re.MULTILINE,
    ), both.out
    assert lines[-1] == "2 rooms: 1 delivered, 1 failed"

    # the cue's record, as `cues show` prints it, with its status callback
    async def callback_done() -> CueStatus:
        deadline = time.monotonic() + 15
        while True:
            got = await asyncio.to_thread(status, stack, "cli-say-1")
            if got.callbacks and got.callbacks[0].state == "delivered":
                return got
            assert time.monotonic() < deadline, got.callbacks
            await asyncio.sleep(0.2)

    await callback_done()
    shown = await run("cues", "show", "cli-say-1", env=env, cwd=tmp_path)
    assert (shown.code, shown.err) == (0, "")
    assert f"room        {room}\n" in shown.out
    assert "state       delivered (final)\n" in shown.out
    assert "outcome     applied\n" in shown.out
    assert "kind        say: Order 881 has shipped.\n" in shown.out
    assert "the agent said: Order 881 has shipped.\n" in shown.out
    history = shown.out.split("history\n", 1)[1].split("callbacks\n", 1)[0]
    steps = [line.split()[1:3] for line in history.splitlines()]
    assert [s[0] for s in steps] == ["queued", "sending", "at_agent", "delivered"]
    assert steps[-1] == ["delivered", "applied"]
    callbacks = shown.out.split("callbacks\n", 1)[1]
    assert callbacks.startswith(
        f"  cue.applied to {receiver}/hooks/cues: delivered, 1 attempt(s)\n"
    ), callbacks
    assert re.search(r"^    \S+Z  204  \d+ ms$", callbacks, re.MULTILINE), callbacks
    assert "cue.applied" in _Receiver.events

    as_json = json.loads(
        (await run("cues", "show", "cli-say-1", "--json", env=env, cwd=tmp_path)).out
    )
    assert as_json["id"] == "cli-say-1" and as_json["callbacks"][0]["history"][0]["status"] == 204

    # an agent had it: it cannot be cancelled, and the command says why
    refused = await run("cues", "cancel", "cli-say-1", env=env, cwd=tmp_path)
    one_error(refused, 1, "cue 'cli-say-1' is final already (delivered) and cannot be cancelled")


# -- without an agent -------------------------------------------------------------------


async def test_without_wait_the_accepted_cue_is_printed(
    env: dict[str, str], tmp_path: Path
) -> None:
    room = room_name("cli")
    ran = await run("send", room, "VIP caller", "--kind", "context", "--id", "cli-acc-1",
                    env=env, cwd=tmp_path)  # fmt: skip
    assert ran == Ran(0, f"✓ {room}: accepted, queued (cue cli-acc-1)\n", "")
    as_json = await run("send", room, "VIP caller", "--kind", "context", "--json",
                        env=env, cwd=tmp_path)  # fmt: skip
    accepted = json.loads(as_json.out)
    assert (as_json.code, set(accepted)) == (0, {"id", "room", "status"})
    assert (accepted["room"], accepted["status"]) == (room, "queued")

    many = await run("broadcast", "note", "--rooms", f"{room},{room}-2", "--kind", "context",
                     env=env, cwd=tmp_path)  # fmt: skip
    assert many.code == 0 and many.err == ""
    assert re.search(rf"^{re.escape(room)}-2\s+[0-9a-f]{{32}}\s+queued$", many.out, re.MULTILINE)
    assert re.search(r"^2 rooms: accepted \(broadcast \S+\)$", many.out, re.MULTILINE)


async def test_a_cue_that_expires_exits_1(env: dict[str, str], tmp_path: Path) -> None:
    room = room_name("cli")
    ran = await run("send", room, "hello", "--kind", "say", "--ttl", "1", "--wait", "15",
                    "--id", "cli-exp-1", env=env, cwd=tmp_path)  # fmt: skip
    assert ran == Ran(
        1,
        f"✗ {room}: expired: room {room!r} did not exist on the LiveKit server before the cue "
        "expired (cue cli-exp-1)\n",
        "",
    )


async def test_a_wait_that_runs_out_names_the_cue_and_its_state(
    stack: Stack, env: dict[str, str], tmp_path: Path
) -> None:
    room = room_name("cli")
    started = time.monotonic()
    ran = await run("send", room, "hello", "--kind", "say", "--wait", "1", "--id", "cli-wait-1",
                    env=env, cwd=tmp_path)  # fmt: skip
    assert time.monotonic() - started < 30
    one_error(
        ran,
        1,
        "cue 'cli-wait-1' is not final after 1 s; its last state is held: "
        f"room {room!r} does not exist on the LiveKit server",
    )
    as_json = await run("send", room, "hello", "--kind", "say", "--wait", "1", "--json",
                        env=env, cwd=tmp_path)  # fmt: skip
    assert as_json.code == 1
    assert json.loads(as_json.out)["status"] in ("queued", "sending", "held")
    assert as_json.err.startswith("error: cue ") and as_json.err.count("\n") == 1


async def test_cues_list_show_cancel_resend(
    stack: Stack, env: dict[str, str], tmp_path: Path
) -> None:
    room = room_name("cues")
    ids = [f"cli-list-{i}" for i in range(3)]
    for cue_id in ids:
        sent = await run("send", room, f"note {cue_id}", "--kind", "context", "--id", cue_id,
                         env=env, cwd=tmp_path)  # fmt: skip
        assert sent.code == 0, sent
    for cue_id in ids:
        await until_status(stack, cue_id, "held")

    table = await run("cues", "list", "--room", room, "--limit", "2", env=env, cwd=tmp_path)
    assert (table.code, table.err) == (0, "")
    lines = table.out.splitlines()
    assert lines[0].split() == [
        "id", "created", "room", "kind", "state", "outcome", "said,", "reason", "or", "text"
    ]  # fmt: skip
    assert [line.split()[0] for line in lines[1:]] == ["cli-list-2", "cli-list-1"]
    assert lines[1].split()[2:5] == [room, "context", "held"]
    assert lines[1].endswith("note cli-list-2")

    everything = json.loads(
        (await run("cues", "list", "--room", room, "--json", env=env, cwd=tmp_path)).out
    )
    assert [c["id"] for c in everything] == list(reversed(ids))
    held = await run("cues", "list", "--room", room, "--state", "held", "--after", "10m",
                     "--json", env=env, cwd=tmp_path)  # fmt: skip
    assert {c["id"] for c in json.loads(held.out)} == set(ids)
    future = await run("cues", "list", "--room", room, "--after", "2099-01-01T00:00:00Z",
                       env=env, cwd=tmp_path)  # fmt: skip
    assert future == Ran(0, "no cues match\n", "")

    cancelled = await run("cues", "cancel", "cli-list-0", env=env, cwd=tmp_path)
    assert cancelled == Ran(0, f"✓ {room}: cancelled (cue cli-list-0)\n", "")
    shown = await run("cues", "show", "cli-list-0", env=env, cwd=tmp_path)
    admin_id = stack.admin_key.split("_")[1]
    assert "state       cancelled (final)\n" in shown.out
    assert f"reason      cancelled by API key {admin_id}\n" in shown.out
    assert shown.out.rstrip().splitlines()[-1].split()[1:] == [
        "cancelled", "cancelled", "by", "API", "key", admin_id
    ]  # fmt: skip

    resent = await run("cues", "resend", "cli-list-0", env=env, cwd=tmp_path)
    match = re.fullmatch(
        rf"✓ {re.escape(room)}: resent cue cli-list-0, queued \(cue ([0-9a-f]{{32}})\)\n",
        resent.out,
    )
    assert match and resent.code == 0, resent
    new = json.loads((await run("cues", "show", match[1], "--json", env=env, cwd=tmp_path)).out)
    assert new["resent_from"] == "cli-list-0"
    assert (new["cue"]["kind"], new["cue"]["text"]) == ("context", "note cli-list-0")
    again = json.loads(
        (await run("cues", "resend", "cli-list-1", "--json", env=env, cwd=tmp_path)).out
    )
    assert set(again) == {"id", "room", "status"} and again["room"] == room

    one_error(await run("cues", "show", "nope", env=env, cwd=tmp_path), 1, "no cue with id 'nope'")


# -- refusals ---------------------------------------------------------------------------


async def test_usage_errors_exit_2_in_one_line(
    stack: Stack, env: dict[str, str], tmp_path: Path
) -> None:
    url = stack.url
    to = await run("send", "r", "hi", "--gateway", url, "--to", "agent", env=env, cwd=tmp_path)
    one_error(
        to,
        2,
        "--to applies to LiveKit directly, and this goes through the gateway, which chooses "
        "the agent and the timing itself: drop --to, or add --livekit",
    )
    topic = await run("send", "r", "hi", "--topic", "x", env=env, cwd=tmp_path)
    one_error(
        topic,
        2,
        "--topic applies to LiveKit directly, and this goes through the gateway "
        "(LIVECUE_GATEWAY_URL is set), which chooses the agent and the timing itself: "
        "drop --topic, or add --livekit",
    )
    concurrency = await run("broadcast", "hi", "--all", "--concurrency", "8",
                            env=env, cwd=tmp_path)  # fmt: skip
    assert concurrency.code == 2 and concurrency.err.startswith("error: --concurrency applies")

    no_key = {k: v for k, v in env.items() if k != "LIVECUE_API_KEY"}
    one_error(
        await run("send", "r", "hi", env=no_key, cwd=tmp_path),
        2,
        f"no API key for the gateway at {url}: set LIVECUE_API_KEY (or give --api-key)",
    )
    one_error(
        await run("cues", "list", env=base_env(), cwd=tmp_path),
        2,
        "no gateway: give --gateway URL or set LIVECUE_GATEWAY_URL",
    )
    # LiveKit directly: the gateway's options are refused (and no LiveKit settings needed)
    direct = await run("send", "r", "hi", "--livekit", "--callback-url", "http://x/",
                       env=env, cwd=tmp_path)  # fmt: skip
    one_error(
        direct,
        2,
        "--callback-url works through the gateway only: give --gateway URL "
        "(or set LIVECUE_GATEWAY_URL)",
    )
    direct_wait = await run("broadcast", "hi", "--all", "--wait", "5", env=base_env(),
                            cwd=tmp_path)  # fmt: skip
    assert direct_wait.code == 2 and "--wait on a broadcast works through the gateway" in (
        direct_wait.err
    )
    one_error(
        await run("send", "r", env=env, cwd=tmp_path),
        2,
        "a 'reply' cue needs TEXT (only --kind interrupt goes without)",
    )
    one_error(
        await run("send", "r", "hi", "--gateway", "localhost:8080", env=env, cwd=tmp_path),
        2,
        "the gateway URL 'localhost:8080' is not an http(s) URL (like http://127.0.0.1:8080)",
    )
    # the gateway's own 422: a callback URL off its allow-list
    one_error(
        await run("send", "r", "hi", "--callback-url", "http://10.0.0.1/x", env=env, cwd=tmp_path),
        2,
        "callback_url: 'http://10.0.0.1/x' is not on the gateway's callback allow-list",
    )


async def test_a_refused_key_or_no_gateway_exit_1(
    stack: Stack, env: dict[str, str], tmp_path: Path
) -> None:
    admin_id = stack.admin_key.split("_")[1]
    bad = {**env, "LIVECUE_API_KEY": f"lck_{admin_id}_wrongsecret"}
    refused = await run("cues", "list", env=bad, cwd=tmp_path)
    assert (
        refused.code == 1
        and refused.err.startswith("error: ")
        and "unknown or revoked" in (refused.err)
    )
    reader = {**env, "LIVECUE_API_KEY": stack.key("read")}
    one_error(
        await run("send", "r", "hi", env=reader, cwd=tmp_path),
        1,
        "this API key lacks the 'send' scope",
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    gone = await run("send", "r", "hi", "--gateway", closed, env=env, cwd=tmp_path)
    assert gone.code == 1
    assert gone.err.startswith(f"error: cannot reach the gateway at {closed} (ConnectError")


async def test_help_names_the_gateway_options(tmp_path: Path) -> None:
    top = await run("--help", env=base_env(), cwd=tmp_path)
    assert top.code == 0 and "cues" in top.out and "LIVECUE_GATEWAY_URL" in top.out
    send = await run("send", "--help", env=base_env(), cwd=tmp_path)
    for option in ("--gateway", "--livekit", "--api-key", "--idempotency-key", "--callback-url"):
        assert option in send.out
    assert "LIVECUE_API_KEY, which is safer" in " ".join(send.out.split())
    for command in ("list", "show", "cancel", "resend"):
        sub = await run("cues", command, "--help", env=base_env(), cwd=tmp_path)
        assert sub.code == 0 and "example" in sub.out, command
