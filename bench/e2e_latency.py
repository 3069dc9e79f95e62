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

``--wan`` puts toxiproxy (25 ms each way, 5 ms jitter, as ``fanout_wan``) between
livekit-server's HTTP API and both the gateway and the raw client; the participants
connect directly. The line then carries ``"rtt_ms": 50``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from livekit import api

from harness.gateway import GatewayProcess
from harness.livekit_server import LiveKitServer, free_port
from harness.toxiproxy import Toxiproxy, WanProfile

from . import _gateway_trace
from ._common import (
    Arrivals,
    BenchFailure,
    Column,
    add_round_arguments,
    arrival,
    gateway_env,
    join_rooms,
    log,
    measure,
    median,
    raw_column,
    summarize,
    use_examples,
)
from ._machine import CpuWatch, load_average

NAME = "e2e_latency"
HELP = "one cue at a time, gateway POST to agent callback vs raw livekit-api send_data"

AGENT_ROOM = "e2e-agent"
RAW_ROOM = "e2e-raw"
TIMEOUT_S = 10.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_round_arguments(parser, sends=300)
    parser.add_argument(
        "--wan",
        action="store_true",
        help="a 50 ms round trip (toxiproxy) between the senders and livekit-server's API",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="timestamp the gateway's stages and print where its time goes (to stderr)",
    )


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
        arrived = await arrival(received, f"gateway cue {seq}", TIMEOUT_S)
        self.sent.append((cue_id, start, accepted, arrived))
        status = await arrival(finished, f"gateway cue {seq}'s outcome", TIMEOUT_S)
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


async def _run_columns(
    server: LiveKitServer,
    gateway: GatewayProcess,
    stack: contextlib.AsyncExitStack,
    args: argparse.Namespace,
    api_url: str,
) -> tuple[dict[str, list[float]], GatewayColumn]:
    """Join everyone, then measure; ``stack`` undoes each step that was taken."""
    arrivals = await join_rooms(server, stack, AGENT_ROOM, RAW_ROOM)
    key = await asyncio.to_thread(gateway.create_key, "send", "read")
    client = httpx.AsyncClient(
        base_url=gateway.url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=TIMEOUT_S,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1),
    )
    stack.push_async_callback(client.aclose)
    raw_client = api.LiveKitAPI(api_url, server.api_key, server.api_secret)
    stack.push_async_callback(raw_client.aclose)

    gateway_column = GatewayColumn(client, arrivals)
    columns: dict[str, Column] = {
        "gateway": gateway_column,
        "raw": raw_column(raw_client, arrivals, RAW_ROOM, TIMEOUT_S),
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
    profile = WanProfile()
    with (
        LiveKitServer(webhook_urls=[f"http://127.0.0.1:{port}/livekit/webhook"]) as server,
        tempfile.TemporaryDirectory(prefix="livecue-e2e-") as tmp,
        contextlib.ExitStack() as wan,
    ):
        api_url = server.url
        if args.wan:
            api_url = wan.enter_context(Toxiproxy(server.port, profile)).url
            log(f"LiveKit's API through toxiproxy at {api_url}: {profile}")
        trace_file = Path(tmp) / "gateway-trace.jsonl"
        env = {**gateway_env(trace_file if args.trace else None), "LIVEKIT_URL": api_url}
        gateway = GatewayProcess(server, port=port, env_extra=env)
        try:
            await asyncio.to_thread(gateway.start)
            async with contextlib.AsyncExitStack() as stack:
                samples, gateway_column = await _run_columns(server, gateway, stack, args, api_url)
        finally:
            await asyncio.to_thread(gateway.close)
        log(f"load average after: {load_average()}")
        if args.trace:
            # the first ``warmup`` gateway sends were not timed
            _gateway_trace.report(trace_file, gateway_column.sent[args.warmup :], log)

    result: dict[str, object] = {"bench": NAME}
    if args.wan:
        result["rtt_ms"] = profile.rtt_ms
    result.update(summarize(samples, {"gateway": "", "raw": "raw_"}))
    gap = median(samples["gateway"]) - median(samples["raw"])
    log(f"p50_ms - raw_p50_ms = {gap:.3f} ms (target <= 5)")
    return result
