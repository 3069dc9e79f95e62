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
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from livekit import api, rtc

from harness.livekit_server import LiveKitServer
from harness.participants import join
from livecue import Credentials, CueSender, new_cue

from ._common import BenchFailure, log, median, percentile, rounded, use_examples

NAME = "latency"
HELP = "one cue at a time, send to listener callback: livecue data and rpc vs raw livekit-api"

AGENT_ROOM = "latency-agent"
RAW_ROOM = "latency-raw"
RAW_TOPIC = "bench"
TIMEOUT_S = 5.0

Column = Callable[[int], Awaitable[float]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sends", type=int, default=500, help="timed sends per column")
    parser.add_argument("--warmup", type=int, default=20, help="untimed sends per column first")


class Arrivals:
    """Futures resolved with ``perf_counter()`` when a send reaches its callback."""

    def __init__(self) -> None:
        self.received: dict[str, asyncio.Future[float]] = {}
        self.finished: dict[str, asyncio.Future[str]] = {}
        self.raw: dict[bytes, asyncio.Future[float]] = {}

    def expect(self, cue_id: str) -> tuple[asyncio.Future[float], asyncio.Future[str]]:
        loop = asyncio.get_running_loop()
        self.received[cue_id] = loop.create_future()
        self.finished[cue_id] = loop.create_future()
        return self.received[cue_id], self.finished[cue_id]

    def expect_raw(self, payload: bytes) -> asyncio.Future[float]:
        self.raw[payload] = asyncio.get_running_loop().create_future()
        return self.raw[payload]

    def on_cue_received(self, event: Any) -> None:
        _resolve(self.received.pop(event.cue.id, None), time.perf_counter())

    def on_outcome(self, event: Any) -> None:
        _resolve(self.finished.pop(event.outcome.cue_id, None), event.outcome.status)

    def on_raw(self, packet: rtc.DataPacket) -> None:
        _resolve(self.raw.pop(packet.data, None), time.perf_counter())


def _resolve(future: asyncio.Future[Any] | None, value: object) -> None:
    if future is not None and not future.done():
        future.set_result(value)


async def _arrival(future: asyncio.Future[float], what: str) -> float:
    try:
        return await asyncio.wait_for(future, TIMEOUT_S)
    except asyncio.TimeoutError:
        raise BenchFailure(f"{what} never reached its listener within {TIMEOUT_S}s") from None


def livecue_column(sender: CueSender, arrivals: Arrivals, name: str) -> Column:
    async def send(seq: int) -> float:
        cue = new_cue("context", f"latency probe {name} {seq}")
        received, finished = arrivals.expect(cue.id)
        start = time.perf_counter()
        await sender.send(AGENT_ROOM, cue)
        elapsed = await _arrival(received, f"{name} cue {seq}") - start
        status = await asyncio.wait_for(finished, TIMEOUT_S)  # let the agent settle, untimed
        if status != "applied":
            raise BenchFailure(f"{name} cue {seq} was not applied: {status}")
        return elapsed

    return send


def raw_column(client: api.LiveKitAPI, arrivals: Arrivals) -> Column:
    async def send(seq: int) -> float:
        payload = json.dumps({"seq": seq, "ns": time.time_ns()}).encode()
        received = arrivals.expect_raw(payload)
        request = api.SendDataRequest(
            room=RAW_ROOM, data=payload, kind=api.DataPacket.Kind.RELIABLE, topic=RAW_TOPIC
        )
        start = time.perf_counter()
        await client.room.send_data(request)
        return await _arrival(received, f"raw packet {seq}") - start

    return send


async def measure(columns: dict[str, Column], sends: int, warmup: int) -> dict[str, list[float]]:
    """``warmup`` untimed rounds, then ``sends`` timed ones; the order rotates each round."""
    samples: dict[str, list[float]] = {name: [] for name in columns}
    names = list(columns)
    for round_ in range(warmup + sends):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            elapsed = await columns[name](round_)
            if round_ >= warmup:
                samples[name].append(elapsed * 1000)
        if (round_ + 1) % 100 == 0:
            log(f"{round_ + 1} of {warmup + sends} rounds")
    return samples


async def _run_columns(
    server: LiveKitServer, stack: contextlib.AsyncExitStack, args: argparse.Namespace
) -> dict[str, list[float]]:
    """Join everyone, then measure; ``stack`` undoes each step that was taken."""
    from harness.agent import start_agent
    from harness.observer import Observer

    creds = Credentials(server.url, server.api_key, server.api_secret)
    observer = await Observer.join(server, AGENT_ROOM)
    stack.push_async_callback(observer.leave)
    agent = await start_agent(server, AGENT_ROOM)
    stack.push_async_callback(agent.stop)
    listener = await join(server, RAW_ROOM, "listener")
    stack.push_async_callback(listener.disconnect)
    # the agent's room also holds the user (the observer): give the raw room a second too
    bystander = await join(server, RAW_ROOM, "user")
    stack.push_async_callback(bystander.disconnect)

    arrivals = Arrivals()
    agent.cues.on("cue_received", arrivals.on_cue_received)
    agent.cues.on("cue_applied", arrivals.on_outcome)
    agent.cues.on("cue_dropped", arrivals.on_outcome)
    listener.on("data_received", arrivals.on_raw)
    data_sender = CueSender(creds, transport="data")
    stack.push_async_callback(data_sender.aclose)
    rpc_sender = CueSender(creds, transport="rpc")
    stack.push_async_callback(rpc_sender.aclose)
    raw_client = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
    stack.push_async_callback(raw_client.aclose)

    columns = {
        "data": livecue_column(data_sender, arrivals, "data"),
        "rpc": livecue_column(rpc_sender, arrivals, "rpc"),
        "raw": raw_column(raw_client, arrivals),
    }
    log(f"{args.warmup} warm-up and {args.sends} timed rounds of data, rpc, raw")
    return await measure(columns, args.sends, args.warmup)


async def run(args: argparse.Namespace) -> dict[str, object]:
    use_examples()
    with LiveKitServer() as server:
        async with contextlib.AsyncExitStack() as stack:
            samples = await _run_columns(server, stack, args)

    result: dict[str, object] = {"bench": NAME}
    for name, values in samples.items():
        p50, p99 = median(values), percentile(values, 99)
        worst = max(range(len(values)), key=values.__getitem__)
        log(
            f"{name}: p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {values[worst]:.3f} ms (send {worst})"
        )
        result[f"{name}_p50_ms"] = rounded(p50, 3)
        result[f"{name}_p99_ms"] = rounded(p99, 3)
    gap = median(samples["data"]) - median(samples["raw"])
    log(f"data_p50 - raw_p50 = {gap:.3f} ms (target <= 2)")
    return result
