"""Send → listener callback, one cue at a time: livecue data, livecue rpc, bare livekit-api.

``data`` and ``rpc`` end at the ``cue_received`` event of livecue's listener on a
real AgentSession (the cue has passed the origin check and decoded); ``raw``
ends at a bare ``data_received`` handler on a plain room. ``rpc`` includes the
sender's agent lookup (ListParticipants) that precedes every PerformRpc. The
three columns take turns, in rotating order, so machine noise falls on all of
them alike. Each send waits for the previous one to be fully handled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time

from livekit import api

from harness.livekit_server import LiveKitServer
from livecue import Credentials, CueSender, new_cue

from ._common import (
    Arrivals,
    BenchFailure,
    Column,
    add_round_arguments,
    arrival,
    join_rooms,
    log,
    measure,
    median,
    raw_column,
    summarize,
    use_examples,
)

NAME = "latency"
HELP = "one cue at a time, send to listener callback: livecue data and rpc vs raw livekit-api"

AGENT_ROOM = "latency-agent"
RAW_ROOM = "latency-raw"
TIMEOUT_S = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_round_arguments(parser, sends=500)


def livecue_column(sender: CueSender, arrivals: Arrivals, name: str) -> Column:
    async def send(seq: int) -> float:
        cue = new_cue("context", f"latency probe {name} {seq}")
        received, finished = arrivals.expect(cue.id)
        start = time.perf_counter()
        await sender.send(AGENT_ROOM, cue)
        elapsed = await arrival(received, f"{name} cue {seq}", TIMEOUT_S) - start
        status = await asyncio.wait_for(finished, TIMEOUT_S)  # let the agent settle, untimed
        if status != "applied":
            raise BenchFailure(f"{name} cue {seq} was not applied: {status}")
        return elapsed

    return send


async def _run_columns(
    server: LiveKitServer, stack: contextlib.AsyncExitStack, args: argparse.Namespace
) -> dict[str, list[float]]:
    """Join everyone, then measure; ``stack`` undoes each step that was taken."""
    creds = Credentials(server.url, server.api_key, server.api_secret)
    arrivals = await join_rooms(server, stack, AGENT_ROOM, RAW_ROOM)
    data_sender = CueSender(creds, transport="data")
    stack.push_async_callback(data_sender.aclose)
    rpc_sender = CueSender(creds, transport="rpc")
    stack.push_async_callback(rpc_sender.aclose)
    raw_client = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
    stack.push_async_callback(raw_client.aclose)

    columns = {
        "data": livecue_column(data_sender, arrivals, "data"),
        "rpc": livecue_column(rpc_sender, arrivals, "rpc"),
        "raw": raw_column(raw_client, arrivals, RAW_ROOM, TIMEOUT_S),
    }
    log(f"{args.warmup} warm-up and {args.sends} timed rounds of data, rpc, raw")
    return await measure(columns, args.sends, args.warmup)


async def run(args: argparse.Namespace) -> dict[str, object]:
    use_examples()
    with LiveKitServer() as server:
        async with contextlib.AsyncExitStack() as stack:
            samples = await _run_columns(server, stack, args)

    result: dict[str, object] = {"bench": NAME}
    result.update(summarize(samples, {name: f"{name}_" for name in samples}))
    gap = median(samples["data"]) - median(samples["raw"])
    log(f"data_p50 - raw_p50 = {gap:.3f} ms (target <= 2)")
    return result
