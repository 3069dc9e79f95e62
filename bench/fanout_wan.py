"""``fanout`` as a hosted LiveKit's users see it: 50 ms between every client and the API.

toxiproxy sits between every sender (livecue, the seed's loop, raw livekit-api) and
livekit-server's HTTP API, adding 25 ms each way with 5 ms of jitter; the listening
participants connect directly. On loopback a new API client per send costs about
1.5 ms; here every request costs a round trip, so what decides the time is how
many are in flight at once.

``--sweep 16,32,64,128,200`` also times livecue's broadcast at each concurrency,
with the CPU the server spent per run, to pick the default from.
"""

from __future__ import annotations

import argparse
import time

from harness.livekit_server import LiveKitServer
from harness.toxiproxy import Toxiproxy, WanProfile
from livecue import Credentials, CueSender

from ._common import BenchFailure, log, median, rounded
from ._listeners import LISTENER_ROOM_TIMEOUT_S, Listeners
from ._machine import process_cpu_s
from .fanout import (
    VARIANTS,
    add_common_arguments,
    compare,
    livecue_variant,
    positive_int,
    room_counts,
    summarize,
)

NAME = "fanout_wan"
HELP = "fanout through a 50 ms round trip (toxiproxy) to livekit-server's API"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rooms", type=positive_int, default=200, help="rooms, one listener each")
    add_common_arguments(parser, runs=3)
    parser.add_argument(
        "--sweep",
        type=room_counts,
        default=[],
        metavar="N,N,...",
        help="also time livecue's broadcast at each of these concurrencies",
    )


async def sweep(
    server: LiveKitServer, listeners: Listeners, api_url: str, levels: list[int], runs: int
) -> list[dict[str, float]]:
    """livecue's broadcast at each concurrency: median seconds, server CPU seconds per run."""
    rows = []
    for level in levels:
        creds = Credentials(api_url, server.api_key, server.api_secret)
        async with CueSender(creds, transport="data", concurrency=level) as sender:
            variant = livecue_variant(sender, listeners.rooms)
            walls, server_cpu = [], []
            for run in range(runs + 1):  # run 0 opens the connections
                marker = f"sweep-{level}-{run}-{time.time_ns()}"
                cpu_start = process_cpu_s(server.pid) if server.pid else None
                start = time.perf_counter()
                await variant(marker)
                elapsed = time.perf_counter() - start
                cpu_end = process_cpu_s(server.pid) if server.pid else None
                await listeners.expect_once(marker, f"sweep {level}")
                if run > 0:
                    walls.append(elapsed)
                    if cpu_start is not None and cpu_end is not None:
                        server_cpu.append(cpu_end - cpu_start)
        row = {
            "concurrency": level,
            "livecue_s": rounded(median(walls)),
            "server_cpu_s": rounded(median(server_cpu)) if server_cpu else -1.0,
        }
        log(f"sweep: {row}")
        rows.append(row)
    return rows


async def run(args: argparse.Namespace) -> dict[str, object]:
    rooms = [f"wan-{i:04d}" for i in range(args.rooms)]
    profile = WanProfile()
    with (
        LiveKitServer(empty_timeout_s=LISTENER_ROOM_TIMEOUT_S) as server,
        Toxiproxy(server.port, profile) as proxy,
    ):
        log(f"API through toxiproxy at {proxy.url}: {profile}")
        listeners = await Listeners.start(server, rooms, concurrency=args.join_concurrency)
        try:
            timed = await compare(
                server,
                listeners,
                api_url=proxy.url,
                concurrency=args.concurrency,
                runs=args.runs,
            )
            rows = await sweep(server, listeners, proxy.url, args.sweep, args.runs)
        finally:
            await listeners.close()
    result = summarize(timed, len(rooms))
    if not all(result[name] > 0 for name in VARIANTS):
        raise BenchFailure("a variant took no time at all")
    seed_ratio, raw_ratio = result["seed"] / result["livecue"], result["livecue"] / result["raw"]
    log(f"seed/livecue = {seed_ratio:.1f} (target >= 30), livecue/raw = {raw_ratio:.2f} (<= 1.10)")
    line: dict[str, object] = {"bench": NAME, "rooms": len(rooms), "rtt_ms": profile.rtt_ms}
    line.update({f"{name}_s": rounded(result[name]) for name in VARIANTS})
    line.update(
        {
            "concurrency": args.concurrency,
            "seed_over_livecue": round(seed_ratio, 1),
            "livecue_over_raw": round(raw_ratio, 3),
        }
    )
    if rows:
        line["sweep"] = rows
    return line
