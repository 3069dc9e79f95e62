"""The ``livecue`` console script, run as a real process against the real server."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from livekit import rtc

import livecue
from harness.livekit_server import LiveKitServer
from livecue import decode_cue

from .conftest import Participants, room_name

pytestmark = pytest.mark.integration

BIN = Path(sys.executable).parent
LIVECUE = BIN / "livecue"


@dataclass
class Ran:
    code: int
    out: str
    err: str


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIVEKIT_", "LIVECUE_"))}
    env["PYTHONIOENCODING"] = "utf-8"
    return env


@pytest.fixture
def env(livekit_server: LiveKitServer) -> dict[str, str]:
    return {**_base_env(), **livekit_server.env}


async def run(*args: str, env: dict[str, str], cwd: Path, program: Path = LIVECUE) -> Ran:
    """Run the command while this test's event loop keeps serving the participants."""
    proc = await asyncio.create_subprocess_exec(
        str(program),
        *args,
        env=env,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode is not None
    return Ran(proc.returncode, out.decode(), err.decode())


def assert_one_error_line(ran: Ran, start: str) -> None:
    assert "Traceback" not in ran.err
    assert ran.err.startswith(f"error: {start}"), ran.err
    assert ran.err.count("\n") == 1, ran.err


async def test_version(tmp_path: Path) -> None:
    expected = f"livecue {livecue.__version__}\n"
    assert await run("--version", env=_base_env(), cwd=tmp_path) == Ran(0, expected, "")
    by_module = await run(
        "-m", "livecue", "--version", env=_base_env(), cwd=tmp_path, program=BIN / "python"
    )
    assert by_module == Ran(0, expected, "")


async def test_help_describes_every_command_and_option(tmp_path: Path) -> None:
    top = await run("--help", env=_base_env(), cwd=tmp_path)
    assert top.code == 0
    for command in ("send", "broadcast", "rooms"):
        assert command in top.out
    send = await run("send", "--help", env=_base_env(), cwd=tmp_path)
    for option in ("--kind", "--policy", "--ttl", "--to", "--transport", "--json", "--id"):
        assert option in send.out
    broadcast = await run("broadcast", "--help", env=_base_env(), cwd=tmp_path)
    for option in ("--rooms", "--prefix", "--all", "--concurrency"):
        assert option in broadcast.out


async def test_send_prints_the_agents_outcome(
    participants: Participants, env: dict[str, str], tmp_path: Path
) -> None:
    room = room_name("cli")
    agent = await participants.rpc_agent(room)

    ran = await run(
        "send", room, "A donation arrived", "--id", "cue-1a2b3c4d5e6f", env=env, cwd=tmp_path
    )

    assert ran == Ran(0, f"✓ {room}: applied (cue cue-1a2b…)\n", "")
    assert agent.cue_ids == ["cue-1a2b3c4d5e6f"]


async def test_send_json_carries_every_option_into_the_cue(
    participants: Participants, env: dict[str, str], tmp_path: Path
) -> None:
    room = room_name("cli")
    agent = await participants.rpc_agent(room)

    ran = await run(
        "send", room, "Say this", "--kind", "say", "--policy", "interrupt", "--ttl", "30",
        "--data", '{"amount": 100}', "--coalesce-key", "donations", "--json",
        env=env, cwd=tmp_path,
    )  # fmt: skip

    assert (ran.code, ran.err) == (0, "")
    result = json.loads(ran.out)
    [cue] = [decode_cue(c.payload) for c in agent.calls]
    assert result == {
        "room": room,
        "cue_id": cue.id,
        "transport": "rpc",
        "attempts": 1,
        "identity": "agent",
        "outcome": {
            "status": "applied",
            "reason": None,
            "said": None,
            "speech_started_at": None,
            "speech_ended_at": None,
            "merged_into": None,
        },
        "error": None,
    }
    assert (cue.kind, cue.text, cue.policy) == ("say", "Say this", "interrupt")
    assert (cue.data, cue.coalesce_key) == ({"amount": 100}, "donations")
    assert cue.expires_at - cue.created_at == timedelta(seconds=30)


async def test_send_on_the_data_transport(
    participants: Participants, env: dict[str, str], tmp_path: Path
) -> None:
    room = room_name("cli")
    listener = await participants.listener(room)

    ran = await run(
        "send", room, "note this", "--kind", "context", "--transport", "data", "--topic", "ops",
        env=env, cwd=tmp_path,
    )  # fmt: skip

    assert ran == Ran(
        0,
        f"✓ {room}: sent to listener on topic ops (no receipt on the data transport without "
        "--wait)\n",
        "",
    )
    [packet] = await listener.wait_for(1)
    assert packet.topic == "ops"
    assert decode_cue(packet.data).text == "note this"


async def test_agent_name_on_the_data_transport_reaches_that_agent_only(
    participants: Participants, env: dict[str, str], tmp_path: Path
) -> None:
    room = room_name("cli")
    alpha = await participants.listener(room, "agent-alpha", kind="agent", agent_name="alpha")
    beta = await participants.listener(room, "agent-beta", kind="agent", agent_name="beta")

    ran = await run(
        "send", room, "for beta", "--kind", "say", "--transport", "data", "--agent-name", "beta",
        env=env, cwd=tmp_path,
    )  # fmt: skip
    fence = await run(
        "send", room, "for all", "--kind", "context", "--transport", "data", env=env, cwd=tmp_path
    )

    assert (ran.code, fence.code) == (0, 0)
    assert "sent to agent-beta" in ran.out
    assert [decode_cue(p.data).text for p in await beta.wait_for(2)] == ["for beta", "for all"]
    # the packet to everyone came after the targeted one, so alpha would have it by now
    assert [decode_cue(p.data).text for p in await alpha.wait_for(1)] == ["for all"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--transport", "rpc", "--topic", "ops"], "--topic applies to --transport data only"),
        (["--transport", "data", "--timeout", "3"], "--timeout applies to --transport rpc only"),
    ],
)
async def test_an_option_the_transport_cannot_honour_is_a_usage_error(
    options: list[str], message: str, env: dict[str, str], tmp_path: Path
) -> None:
    ran = await run("send", "some-room", "hello", *options, env=env, cwd=tmp_path)
    assert ran.code == 2
    assert ran.out == ""
    assert ran.err.startswith(f"error: {message}") and ran.err.count("\n") == 1


async def test_interrupt_needs_no_text(
    participants: Participants, env: dict[str, str], tmp_path: Path
) -> None:
    room = room_name("cli")
    agent = await participants.rpc_agent(room)
    ran = await run("send", room, "--kind", "interrupt", "--json", env=env, cwd=tmp_path)
    assert ran.code == 0, ran.err
    [cue] = [decode_cue(c.payload) for c in agent.calls]
    assert (cue.kind, cue.text) == ("interrupt", None)


async def test_unknown_room_fails_with_one_line_and_exit_1(
    env: dict[str, str], tmp_path: Path
) -> None:
    room = room_name("nowhere")

    ran = await run("send", room, "hello", env=env, cwd=tmp_path)
    as_json = await run("send", room, "hello", "--json", env=env, cwd=tmp_path)

    assert ran == Ran(1, "", f"error: room {room!r} does not exist on the LiveKit server\n")
    assert as_json.code == 1
    assert json.loads(as_json.out)["error"] == {
        "type": "RoomNotFound",
        "message": f"room {room!r} does not exist on the LiveKit server",
        "retryable": False,
    }


async def test_missing_credentials_is_a_usage_error(tmp_path: Path) -> None:
    bare = {"PATH": os.environ.get("PATH", ""), "PYTHONIOENCODING": "utf-8"}
    ran = await run("send", "room-1", "hello", env=bare, cwd=tmp_path)
    assert ran.code == 2
    assert_one_error_line(ran, "LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET not set")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--kind", "Not A Kind"], "error: 'Not A Kind' is not a cue kind"),
        (["--policy", "whenever"], "argument --policy: invalid choice: 'whenever'"),
        (["--data", "[1, 2]"], "argument --data: must be a JSON object"),
        (["--ttl", "0"], "argument --ttl: '0' must be a positive number"),
        (["--transport", "smoke"], "argument --transport: invalid choice"),
    ],
    ids=["kind", "policy", "data", "ttl", "transport"],
)
async def test_bad_arguments_exit_2(
    env: dict[str, str], tmp_path: Path, args: list[str], message: str
) -> None:
    ran = await run("send", "room-1", "hello", *args, env=env, cwd=tmp_path)
    assert ran.code == 2
    assert message in ran.err
    assert "Traceback" not in ran.err
    assert ran.out == ""


async def test_missing_text_and_too_large_cues_exit_2(env: dict[str, str], tmp_path: Path) -> None:
    no_text = await run("send", "room-1", env=env, cwd=tmp_path)
    too_large = await run("send", "room-1", "x" * 16_000, env=env, cwd=tmp_path)
    assert no_text.code == too_large.code == 2
    assert_one_error_line(no_text, "a 'reply' cue needs TEXT")
    assert_one_error_line(too_large, "cue is ")
    assert "over the 15360-byte limit" in too_large.err


async def test_broadcast_by_prefix_summarises_every_room(
    participants: Participants, env: dict[str, str], tmp_path: Path
) -> None:
    prefix = room_name("cb") + "-"
    staffed = [prefix + "a", prefix + "b"]
    agents = [await participants.rpc_agent(r) for r in staffed]

    good = await run("broadcast", "--prefix", prefix, "Closing soon", env=env, cwd=tmp_path)

    assert (good.code, good.err) == (0, "")
    lines = good.out.splitlines()
    assert lines[-1] == "2 rooms: 2 delivered, 0 failed"
    for room in staffed:
        [row] = [line for line in lines if line.startswith(room)]
        assert "applied" in row
    [[first_id], [second_id]] = [a.cue_ids for a in agents]
    assert first_id == second_id  # one cue, two rooms

    await participants.join(prefix + "c", "caller-only")
    mixed = await run("broadcast", "--prefix", prefix, "Closing soon", env=env, cwd=tmp_path)
    as_json = await run("broadcast", "--prefix", prefix, "Again", "--json", env=env, cwd=tmp_path)

    assert mixed.code == 1
    assert "Traceback" not in mixed.err
    assert mixed.out.splitlines()[-1] == "3 rooms: 2 delivered, 1 failed"
    [row] = [line for line in mixed.out.splitlines() if line.startswith(prefix + "c")]
    assert "failed" in row and "has no agent" in row
    report = json.loads(as_json.out)
    assert as_json.code == 1
    assert (report["rooms"], report["delivered"], report["failed"]) == (3, 2, 1)
    assert [r["room"] for r in report["results"]] == [prefix + s for s in "abc"]
    assert report["results"][2]["error"]["type"] == "NoAgentInRoom"


async def test_broadcast_needs_exactly_one_target(env: dict[str, str], tmp_path: Path) -> None:
    none = await run("broadcast", "hello", env=env, cwd=tmp_path)
    both = await run("broadcast", "hello", "--all", "--prefix", "x", env=env, cwd=tmp_path)
    assert none.code == both.code == 2
    assert "one of the arguments --rooms --prefix --all is required" in none.err
    assert "not allowed with argument" in both.err


async def test_rooms_json_and_table(
    participants: Participants, env: dict[str, str], tmp_path: Path
) -> None:
    room = room_name("cr")
    await participants.join(room, "caller")
    await participants.join(room, "agent-9", kind="agent")

    as_json = await run("rooms", "--json", env=env, cwd=tmp_path)
    table = await run("rooms", env=env, cwd=tmp_path)

    assert (as_json.code, as_json.err) == (0, "")
    [entry] = [r for r in json.loads(as_json.out) if r["name"] == room]
    assert entry == {"name": room, "participants": 2, "agents": ["agent-9"]}
    assert table.code == 0
    [row] = [line for line in table.out.splitlines() if line.startswith(room)]
    assert row.split() == [room, "2", "agent-9"]


async def test_a_dotenv_file_in_the_working_directory_is_honoured(
    participants: Participants, livekit_server: LiveKitServer, tmp_path: Path
) -> None:
    room = room_name("dotenv")
    await participants.join(room, "agent", kind="agent")
    dotenv = "".join(f"{k}={v}\n" for k, v in livekit_server.env.items())
    (tmp_path / ".env").write_text(dotenv)

    ran = await run("rooms", "--json", env=_base_env(), cwd=tmp_path)

    assert (ran.code, ran.err) == (0, "")
    assert room in [r["name"] for r in json.loads(ran.out)]


async def test_ctrl_c_exits_130_without_a_traceback(
    participants: Participants, env: dict[str, str], tmp_path: Path
) -> None:
    room = room_name("cint")
    called = asyncio.Event()

    async def hang(call: rtc.RpcInvocationData) -> str:
        called.set()
        await asyncio.sleep(10)
        raise AssertionError("not reached")

    await participants.rpc_agent(room, respond=hang)
    proc = await asyncio.create_subprocess_exec(
        str(LIVECUE), "send", room, "hello", "--timeout", "10",
        env=env, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    await asyncio.wait_for(called.wait(), 10)  # the send is in flight
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 10)

    assert proc.returncode == 130
    assert (out, err) == (b"", b"interrupted\n")
