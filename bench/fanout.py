"""One cue to many rooms: livecue's broadcast vs the seed's loop vs bare livekit-api.

Every room has a real listening participant; each timed run must reach every
one of them exactly once, or the benchmark fails.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import time
from collections.abc import Awaitable, Callable, Sequence

from livekit import api

from harness.livekit_server import LiveKitServer
from livecue import Credentials, CueSender, new_cue

from ._common import BenchFailure, log, median, rounded
from ._listeners import Listeners
from .seed_pattern import seed_fanout

NAME = "fanout"
HELP = "one cue to N rooms: livecue broadcast vs the seed's loop vs raw livekit-api"

Variant = Callable[[str], Awaitable[None]]
RAW_TOPIC = "bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rooms", type=int, default=200, help="rooms, one listener each")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per variant")
    parser.add_argument("--concurrency", type=int, default=32, help="livecue's and raw's bound")
    parser.add_argument(
        "--join-concurrency", type=int, default=10, help="listeners joining at once"
    )
    parser.add_argument(
        "--profile", action="store_true", help="cProfile one livecue and one raw run (to stderr)"
    )


async def raw_fanout(
    client: api.LiveKitAPI, rooms: Sequence[str], payload: bytes, concurrency: int
) -> None:
    """Bare livekit-api: one shared client, every room at once under a semaphore."""
    gate = asyncio.Semaphore(concurrency)

    async def one(room: str) -> None:
        request = api.SendDataRequest(
            room=room, data=payload, kind=api.DataPacket.Kind.RELIABLE, topic=RAW_TOPIC
        )
        async with gate:
            await client.room.send_data(request)

    await asyncio.gather(*(one(r) for r in rooms))


def raw_payload(marker: str) -> bytes:
    return json.dumps({"marker": marker}).encode()


async def open_data_channels(
    client: api.LiveKitAPI, listeners: Listeners, concurrency: int
) -> None:
    """Send until every listener has received a packet, so no run is timed on a cold path."""
    rooms = listeners.rooms
    missing = list(rooms)
    for attempt in range(1, 21):
        marker = f"warm-{attempt}"
        await raw_fanout(client, missing, raw_payload(marker), concurrency)
        counts = await listeners.counts(missing, marker, timeout_s=3.0)
        missing = [r for r, n in counts.items() if n == 0]
        log(f"warm-up send {attempt}: {len(missing)} of {len(rooms)} listeners still got nothing")
        if not missing:
            return
    raise BenchFailure(f"{len(missing)} listeners never received a packet, e.g. {missing[:5]}")


async def measure(
    variants: dict[str, Variant], listeners: Listeners, runs: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """A verified warm-up of each variant, then ``runs`` timed rounds in rotating order.

    Returns wall seconds and this process's CPU seconds per variant and run.
    """
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(runs + 1):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            marker = f"{name}-run{round_}-{time.time_ns()}"
            cpu_start, start = time.process_time(), time.perf_counter()
            await variants[name](marker)
            elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu_start
            label = f"{name} {'warm-up' if round_ == 0 else f'run {round_}'}"
            summary = await listeners.expect_once(marker, label)
            log(f"{summary} ({elapsed:.3f}s, sender CPU {cpu_used:.3f}s)")
            if round_ > 0:
                wall[name].append(elapsed)
                cpu[name].append(cpu_used)
    return wall, cpu


async def profile(variant: Variant, label: str) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    await variant(f"profile-{label}-{time.time_ns()}")
    profiler.disable()
    log(f"profile of one {label} run (top 20 by own time):")
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(20)


async def run(args: argparse.Namespace) -> dict[str, object]:
    rooms = [f"fan-{i:04d}" for i in range(args.rooms)]
    with LiveKitServer() as server:
        creds = Credentials(server.url, server.api_key, server.api_secret)
        log(f"joining {len(rooms)} listeners, {args.join_concurrency} at a time")
        start = time.perf_counter()
        listeners = await Listeners.start(server, rooms, concurrency=args.join_concurrency)
        log(f"joined in {time.perf_counter() - start:.1f}s")
        raw_client = api.LiveKitAPI(server.url, server.api_key, server.api_secret)
        sender = CueSender(creds, transport="data", concurrency=args.concurrency)
        try:
            await open_data_channels(raw_client, listeners, args.concurrency)

            async def livecue(marker: str) -> None:
                results = await sender.broadcast(new_cue("context", marker), rooms=rooms)
                failed = [r for r in results if not r.ok]
                if failed:
                    raise BenchFailure(f"livecue: {len(failed)} rooms failed: {failed[0].error}")

            async def seed(marker: str) -> None:
                await seed_fanout(server.url, server.api_key, server.api_secret, rooms, marker)

            async def raw(marker: str) -> None:
                await raw_fanout(raw_client, rooms, raw_payload(marker), args.concurrency)

            variants: dict[str, Variant] = {"livecue": livecue, "seed": seed, "raw": raw}
            times, cpu = await measure(variants, listeners, args.runs)
            if args.profile:
                await profile(livecue, "livecue")
                await profile(raw, "raw")
        finally:
            await sender.aclose()
            await raw_client.aclose()
            await listeners.close()

    for name, values in times.items():
        per_room_us = median(cpu[name]) / len(rooms) * 1e6
        log(f"{name}: runs {[round(v, 4) for v in values]}, sender CPU {per_room_us:.0f} us/room")
    result = {name: median(values) for name, values in times.items()}
    log(
        f"seed/livecue = {result['seed'] / result['livecue']:.1f} (target >= 20), "
        f"livecue/raw = {result['livecue'] / result['raw']:.2f} (target <= 1.25)"
    )
    return {
        "bench": NAME,
        "rooms": len(rooms),
        "livecue_s": rounded(result["livecue"]),
        "seed_s": rounded(result["seed"]),
        "raw_s": rounded(result["raw"]),
    }
