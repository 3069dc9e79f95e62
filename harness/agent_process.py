"""An agent in a process of its own, for tests that kill it (``kill -9``) mid-work.

``python -m harness.agent_process --room R --identity I`` joins a room of the server named
by LIVEKIT_URL / LIVEKIT_API_KEY / LIVEKIT_API_SECRET, runs a real AgentSession with the
scripted model and livecue attached, and prints one JSON line per livecue event on stdout
(``{"event": "ready"}`` first, once RPC and data reach it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys

from harness.agent import start_agent
from harness.livekit_server import LiveKitServer


def _emit(payload: dict[str, object]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--room", required=True)
    parser.add_argument("--identity", default="agent")
    parser.add_argument("--word-delay", type=float, default=0.0)
    parser.add_argument("--user", default="user", help="the participant the agent listens to")
    args = parser.parse_args(argv)

    # the harness's join() takes a server object: one pointing at the running server
    url = os.environ["LIVEKIT_URL"]
    server = LiveKitServer(
        api_key=os.environ["LIVEKIT_API_KEY"],
        api_secret=os.environ["LIVEKIT_API_SECRET"],
        port=int(url.rsplit(":", 1)[1]),
    )
    agent = await start_agent(
        server,
        args.room,
        identity=args.identity,
        user_identity=args.user,
        word_delay_s=args.word_delay,
    )

    def report(event: object) -> None:
        outcome = getattr(event, "outcome", None)
        cue = getattr(event, "cue", None)
        _emit(
            {
                "event": getattr(event, "type", "?"),
                "cue_id": outcome.cue_id if outcome is not None else getattr(cue, "id", None),
                "status": outcome.status if outcome is not None else None,
            }
        )

    for name in ("cue_received", "cue_started", "cue_applied", "cue_dropped"):
        agent.cues.on(name, report)
    _emit({"event": "ready"})
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    await agent.stop()


if __name__ == "__main__":
    asyncio.run(main())
