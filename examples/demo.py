"""`make demo`: a local livekit-server, the example agent, and one cue of each kind.

Starts everything on loopback, sends each cue with the `livecue` CLI, prints
what the agent said after each, writes the agent's voice to a WAV file (a hidden
participant records its track), and stops everything it started.
"""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "examples")]

from harness.livekit_server import LiveKitServer  # noqa: E402
from harness.observer import Observer  # noqa: E402
from harness.recorder import SAMPLE_RATE, Recorder  # noqa: E402
from livecue import Credentials, CueSender  # noqa: E402

ROOM = "demo-room"
WAV = Path(os.environ.get("LIVECUE_DEMO_WAV", ROOT / ".cache" / "demo-agent.wav"))
LIVECUE = str(Path(sys.executable).with_name("livecue"))

LONG_NEWS = (
    "The spring campaign closed with 1,240 supporters, 38 new monthly donors, "
    "three matched gifts from local businesses and a record total for the shelter"
)

# (what it shows, [livecue send arguments per command], seconds between commands)
STEPS: list[tuple[str, list[list[str]], float]] = [
    (
        "reply: the agent answers in its own words",
        [["A donation of $100 just arrived", "--kind", "reply"]],
        0,
    ),
    (
        "say: the agent speaks the text verbatim",
        [["Thank you for staying on the line.", "--kind", "say"]],
        0,
    ),
    ("context: nothing is said now...", [["The supporter's name is Ada.", "--kind", "context"]], 0),
    ("...but the next reply knows it", [["The monthly report is ready", "--kind", "reply"]], 0),
    (
        "custom kind crm_update goes to the agent's own handler",
        [["", "--kind", "crm_update", "--data", '{"stage": "gold"}']],
        0,
    ),
    (
        "queue (the default) waits for the agent to finish speaking",
        [
            [LONG_NEWS, "--kind", "reply"],
            ["One more thing: the raffle is on Friday.", "--kind", "say"],
        ],
        1.0,
    ),
    (
        "interrupt: a long reply, cut off mid-sentence",
        [[LONG_NEWS, "--kind", "reply"], ["", "--kind", "interrupt"]],
        1.5,
    ),
]


def _say(text: str) -> None:
    print(text, flush=True)


async def _wait_for_agent(creds: Credentials, timeout: float = 60) -> str:
    async with CueSender(creds) as sender:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for room in await sender.rooms():
                if room.name == ROOM and room.agents:
                    return room.agents[0]
            await asyncio.sleep(0.5)
    raise RuntimeError("the agent did not join within a minute")


async def _run(server: LiveKitServer) -> None:
    env = {**os.environ, **server.env, "PYTHONPATH": str(ROOT / "examples")}
    if os.environ.get("LIVECUE_DEMO_OFFLINE"):
        env.pop("OPENAI_API_KEY", None)
    worker = subprocess.Popen(  # noqa: ASYNC220 - starts the worker and returns at once
        [sys.executable, str(ROOT / "examples/agent.py"), "start", "--log-level", "info"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    registered = threading.Event()
    threading.Thread(target=_follow_worker_log, args=(worker, registered), daemon=True).start()
    _say("Starting the example agent (examples/agent.py)...")
    # LiveKit dispatches an agent when a room is created: the worker must be registered first
    if not await asyncio.to_thread(registered.wait, 60):
        raise RuntimeError("the agent worker did not register with the server within a minute")
    observer = await Observer.join(server, ROOM)
    recorder = await Recorder.join(server, ROOM)
    try:
        _say("Waiting for the agent to join the room...")
        agent = await _wait_for_agent(Credentials(server.url, server.api_key, server.api_secret))
        _say(f"Agent {agent!r} is in {ROOM!r}.\n")
        await asyncio.sleep(1.0)  # let its data channel open
        for title, commands, pause in STEPS:
            _say(f"▶ {title}")
            before = len(observer.finished())
            for n, args in enumerate(commands):
                if n:
                    await asyncio.sleep(pause)
                command = [LIVECUE, "send", ROOM, *args]
                _say("  $ " + shlex.join(["livecue", *command[1:]]))
                result = await asyncio.to_thread(_run_cli, command, env)
                _say("    " + (result.stdout or result.stderr).strip())
            heard = await _collect(observer, before)
            _say("  agent said: " + (" / ".join(f"“{t}”" for t in heard) if heard else "(nothing)"))
            _say("")
        _say(_save_recording(recorder, agent))
    finally:
        await recorder.leave()
        await observer.leave()
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()


def _save_recording(recorder: Recorder, agent: str) -> str:
    track = recorder.tracks.get(agent)
    if track is None or not track.pcm:
        return "The agent published no audio (no recording was written)."
    WAV.parent.mkdir(parents=True, exist_ok=True)
    track.write_wav(WAV)
    seconds = len(track.pcm) / 2 / SAMPLE_RATE
    return f"The agent's voice, {seconds:.0f} s as the room heard it: {WAV}"


def _run_cli(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30)


def _follow_worker_log(worker: subprocess.Popen[bytes], registered: threading.Event) -> None:
    """Copy the worker's log to LIVECUE_DEMO_LOG (if set) and notice its registration."""
    path = os.environ.get("LIVECUE_DEMO_LOG")
    with open(path or os.devnull, "wb") as log:
        assert worker.stdout is not None
        for line in worker.stdout:
            log.write(line)
            if b'"registered worker"' in line:
                registered.set()


async def _collect(observer: Observer, before: int, quiet_s: float = 2.5) -> list[str]:
    """What the agent said after a cue: wait until it has been quiet for ``quiet_s``."""
    last = len(observer.segments)
    idle_since = time.monotonic()
    while time.monotonic() - idle_since < quiet_s:
        await asyncio.sleep(0.1)
        streaming = any(not s.done for s in observer.segments)
        if len(observer.segments) != last or streaming:
            last, idle_since = len(observer.segments), time.monotonic()
    return [s.text.strip() for s in observer.finished()[before:]]


def main() -> None:
    with LiveKitServer() as server:
        _say(f"livekit-server running at {server.url}")
        asyncio.run(_run(server))
    _say("Stopped the agent and the server.")


if __name__ == "__main__":
    main()
