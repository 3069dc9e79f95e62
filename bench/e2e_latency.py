"""HTTP POST to the gateway → the agent's ``cue_received``, next to raw livekit-api.

``gateway``: a ``POST /v1/rooms/{room}/cues`` to a real ``livecue serve`` (rpc
transport, its default) over a kept-alive HTTP connection, timed from just
before the request is sent to the ``cue_received`` event of livecue's listener
on a real AgentSession, matched by the cue id chosen in the body. The path
includes the HTTP handling, the SQLite commit before the 202, the dispatcher
picking the cue up, its agent lookup (ListParticipants) and the PerformRpc.

``raw``: ``room.send_data`` of one shared ``LiveKitAPI`` → a bare
``data_received`` handler on a plain ``rtc.Room``: the floor LiveKit itself sets.

The two columns take turns (alternating which goes first), one send at a time:
each gateway cue is followed, untimed, until the agent has applied it and the
gateway has recorded it delivered, so nothing of one send spills into the next.
Everything that times runs in this process, on one clock.

``--trace`` also starts the gateway with timestamps at its stages (see
``bench/_gateway_trace.py``) and prints where the gateway's time goes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from livekit import api, rtc

from harness.gateway import GatewayProcess
from harness.livekit_server import LiveKitServer, free_port
from harness.participants import join

from . import _gateway_trace
from ._common import ROOT, BenchFailure, log, median, percentile, rounded, use_examples
from ._machine import CpuWatch, load_average

NAME = "e2e_latency"
HELP = "one cue at a time, gateway POST to agent callback vs raw livekit-api send_data"

AGENT_ROOM = "e2e-agent"
RAW_ROOM = "e2e-raw"
RAW_TOPIC = "bench"
TIMEOUT_S = 10.0
UNLIMITED = "1000000"

Column = Callable[[int], Awaitable[float]]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sends", type=int, default=300, help="timed sends per column")
    parser.add_argument("--warmup", type=int, default=20, help="untimed sends per column first")
    parser.add_argument(
        "--trace",
        action="store_true",
        help="timestamp the gateway's stages and print where its time goes (to stderr)",
    )


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


async def _arrival(future: asyncio.Future[Any], what: str) -> Any:
    try:
        return await asyncio.wait_for(future, TIMEOUT_S)
    except asyncio.TimeoutError:
        raise BenchFailure(f"{what} never reached its listener within {TIMEOUT_S}s") from None


class GatewayColumn:
    """POST a cue, time it to ``cue_received``; then wait, untimed, until it is settled."""

    def __init__(self, client: httpx.AsyncClient, arrivals: Arrivals) -> None:
        self.client = client
        self.arrivals = arrivals
        self.sent: list[tuple[str, float, float, float]] = []
        """(cue id, POST start, 202 received, cue_received), perf_counter seconds."""

    async def __call__(self, seq: int) -> float:
        cue_id = f"e2e-{seq}-{uuid.uuid4().hex[:12]}"
        body = {"kind": "context", "text": f"e2e probe {seq}", "id": cue_id}
        received, finished = self.arrivals.expect(cue_id)
        start = time.perf_counter()
        response = await self.client.post(f"/v1/rooms/{AGENT_ROOM}/cues", json=body)
        accepted = time.perf_counter()
        if response.status_code != 202 or response.json().get("id") != cue_id:
            raise BenchFailure(f"cue {seq} answered {response.status_code}: {response.text}")
        arrived = await _arrival(received, f"gateway cue {seq}")
        self.sent.append((cue_id, start, accepted, arrived))
        status = await _arrival(finished, f"gateway cue {seq}'s outcome")
        if status != "applied":
            raise BenchFailure(f"gateway cue {seq} was not applied: {status}")
        await self._settled(cue_id, seq)
        return float(arrived - start)

    async def _settled(self, cue_id: str, seq: int) -> None:
        """Until the gateway has recorded the agent's answer (its last write for the cue)."""
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            response = await self.client.get(f"/v1/cues/{cue_id}")
            status = response.json().get("status")
            if status == "delivered":
                return
            if status not in ("queued", "sending"):
                raise BenchFailure(f"gateway cue {seq} ended {status}: {response.text}")
            await asyncio.sleep(0.002)
        raise BenchFailure(f"gateway cue {seq} was not recorded delivered in {TIMEOUT_S}s")


def raw_column(client: api.LiveKitAPI, arrivals: Arrivals) -> Column:
    async def send(seq: int) -> float:
        payload = json.dumps({"seq": seq, "ns": time.time_ns()}).encode()
        received = arrivals.expect_raw(payload)
        request = api.SendDataRequest(
            room=RAW_ROOM, data=payload, kind=api.DataPacket.Kind.RELIABLE, topic=RAW_TOPIC
        )
        start = time.perf_counter()
        await client.room.send_data(request)
        return float(await _arrival(received, f"raw packet {seq}") - start)

    return send


async def measure(columns: dict[str, Column], sends: int, warmup: int) -> dict[str, list[float]]:
    """``warmup`` untimed rounds, then ``sends`` timed ones; who goes first alternates."""
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
    server: LiveKitServer,
    gateway: GatewayProcess,
    stack: contextlib.AsyncExitStack,
    args: argparse.Namespace,
) -> tuple[dict[str, list[float]], GatewayColumn]:
    """Join everyone, then measure; ``stack`` undoes each step that was taken."""
    from harness.agent import start_agent
    from harness.observer import Observer

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

    key = await asyncio.to_thread(gateway.create_key, "send", "read")
    client = httpx.AsyncClient(
        base_url=gateway.url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=TIMEOUT_S,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )
    stack.push_async_callback(client.aclose)
    raw_client = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
    stack.push_async_callback(raw_client.aclose)

    gateway_column = GatewayColumn(client, arrivals)
    columns: dict[str, Column] = {
        "gateway": gateway_column,
        "raw": raw_column(raw_client, arrivals),
    }
    log(f"{args.warmup} warm-up and {args.sends} timed rounds of gateway and raw")
    watch = CpuWatch().start()
    samples = await measure(columns, args.sends, args.warmup)
    share = watch.stop()
    if share is not None:
        log(share.describe())
    return samples, gateway_column


async def run(args: argparse.Namespace) -> dict[str, object]:
    use_examples()
    log(f"load average before: {load_average()}")
    port = free_port()
    with (
        LiveKitServer(webhook_urls=[f"http://127.0.0.1:{port}/livekit/webhook"]) as server,
        tempfile.TemporaryDirectory(prefix="livecue-e2e-") as tmp,
    ):
        env = {"LIVECUE_RATE_PER_KEY": UNLIMITED, "LIVECUE_RATE_PER_ROOM": UNLIMITED}
        trace_file = Path(tmp) / "gateway-trace.jsonl"
        if args.trace:
            env.update(_gateway_trace.environment(trace_file, ROOT))
        gateway = GatewayProcess(server, port=port, env_extra=env)
        try:
            await asyncio.to_thread(gateway.start)
            async with contextlib.AsyncExitStack() as stack:
                samples, gateway_column = await _run_columns(server, gateway, stack, args)
        finally:
            await asyncio.to_thread(gateway.close)
        log(f"load average after: {load_average()}")
        if args.trace:
            # the first ``warmup`` gateway sends were not timed
            _gateway_trace.report(trace_file, gateway_column.sent[args.warmup :], log)

    result: dict[str, object] = {"bench": NAME}
    for name, prefix in (("gateway", ""), ("raw", "raw_")):
        values = samples[name]
        p50, p99 = median(values), percentile(values, 99)
        worst = max(range(len(values)), key=values.__getitem__)
        log(
            f"{name}: p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {values[worst]:.3f} ms (send {worst})"
        )
        result[f"{prefix}p50_ms"] = rounded(p50, 3)
        result[f"{prefix}p99_ms"] = rounded(p99, 3)
    gap = median(samples["gateway"]) - median(samples["raw"])
    log(f"p50_ms - raw_p50_ms = {gap:.3f} ms (target <= 5)")
    return result
