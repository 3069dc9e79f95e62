"""One cue to many rooms: livecue's broadcast vs the seed's loop vs bare livekit-api.

Every room has a real listening participant; each timed run must reach every
one of them exactly once, or the benchmark fails. ``--rooms 50,200,1000`` runs
the comparison once per size, each on a fresh server, and prints one line per
size: the scale curve.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiohttp
from livekit import api

from harness.livekit_server import LiveKitServer
from livecue import Credentials, CueSender, new_cue
from livecue.sender import DEFAULT_CONCURRENCY

from ._common import BenchFailure, log, median, rounded
from ._listeners import LISTENER_ROOM_TIMEOUT_S, Listeners
from ._machine import CpuWatch, process_cpu_s
from .seed_pattern import seed_fanout

NAME = "fanout"
HELP = "one cue to N rooms: livecue broadcast vs the seed's loop vs raw livekit-api"

Variant = Callable[[str], Awaitable[None]]
RAW_TOPIC = "bench"
VARIANTS = ("livecue", "seed", "raw")


def room_counts(text: str) -> list[int]:
    try:
        counts = [int(n) for n in text.split(",") if n.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give counts like 200 or 50,200,1000") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("room counts must be at least 1")
    return counts


def positive_int(text: str) -> int:
    try:
        count = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: give a whole number, like 200") from None
    if count < 1:
        raise argparse.ArgumentTypeError("the room count must be at least 1")
    return count


def add_common_arguments(parser: argparse.ArgumentParser, *, runs: int) -> None:
    parser.add_argument("--runs", type=int, default=runs, help="timed runs per variant")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=DEFAULT_CONCURRENCY,
        help="livecue's and raw's bound on sends in flight (default: CueSender's)",
    )
    parser.add_argument(
        "--join-concurrency", type=int, default=10, help="listeners joining at once"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rooms",
        type=room_counts,
        default=[200],
        help="rooms, one listener each; several (50,200,1000) print one line each",
    )
    add_common_arguments(parser, runs=7)
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


def raw_client(
    url: str, server: LiveKitServer, concurrency: int
) -> tuple[api.LiveKitAPI, aiohttp.ClientSession]:
    """livekit-api's client with as many connections as sends in flight (its own default
    session stops at aiohttp's 100), so raw is the floor at any concurrency."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=max(concurrency, 8)))
    return api.LiveKitAPI(url, server.api_key, server.api_secret, session=session), session


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


@dataclass
class Timed:
    """Per variant and run: wall seconds, this process's CPU seconds, the server's CPU seconds."""

    wall: dict[str, list[float]]
    cpu: dict[str, list[float]]
    server_cpu: dict[str, list[float]]


async def measure(
    variants: dict[str, Variant], listeners: Listeners, runs: int, server_pid: int | None = None
) -> Timed:
    """A verified warm-up of each variant, then ``runs`` timed rounds in rotating order."""
    timed = Timed(
        wall={name: [] for name in variants},
        cpu={name: [] for name in variants},
        server_cpu={name: [] for name in variants},
    )
    names = list(variants)
    for round_ in range(runs + 1):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            marker = f"{name}-run{round_}-{time.time_ns()}"
            server_start = process_cpu_s(server_pid) if server_pid else None
            cpu_start, start = time.process_time(), time.perf_counter()
            await variants[name](marker)
            elapsed, cpu_used = time.perf_counter() - start, time.process_time() - cpu_start
            server_end = process_cpu_s(server_pid) if server_pid else None
            server_used = (
                server_end - server_start
                if server_start is not None and server_end is not None
                else 0.0
            )
            label = f"{name} {'warm-up' if round_ == 0 else f'run {round_}'}"
            summary = await listeners.expect_once(marker, label)
            log(
                f"{summary} ({elapsed:.3f}s, sender CPU {cpu_used:.3f}s, "
                f"server CPU {server_used:.3f}s)"
            )
            if round_ > 0:
                timed.wall[name].append(elapsed)
                timed.cpu[name].append(cpu_used)
                timed.server_cpu[name].append(server_used)
    return timed


async def profile(variant: Variant, label: str) -> None:
    profiler = cProfile.Profile()
    profiler.enable()
    await variant(f"profile-{label}-{time.time_ns()}")
    profiler.disable()
    log(f"profile of one {label} run (top 20 by own time):")
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(20)


def livecue_variant(sender: CueSender, rooms: Sequence[str]) -> Variant:
    async def livecue(marker: str) -> None:
        results = await sender.broadcast(new_cue("context", marker), rooms=rooms)
        failed = [r for r in results if not r.ok]
        if failed:
            raise BenchFailure(f"livecue: {len(failed)} rooms failed: {failed[0].error}")

    return livecue


async def compare(
    server: LiveKitServer,
    listeners: Listeners,
    *,
    api_url: str,
    concurrency: int,
    runs: int,
    profiled: bool = False,
) -> Timed:
    """livecue, seed and raw, each sending to every listener's room through ``api_url``."""
    rooms = listeners.rooms
    creds = Credentials(api_url, server.api_key, server.api_secret)
    client, session = raw_client(api_url, server, concurrency)
    sender = CueSender(creds, transport="data", concurrency=concurrency)
    try:
        await open_data_channels(client, listeners, concurrency)

        async def seed(marker: str) -> None:
            await seed_fanout(api_url, server.api_key, server.api_secret, rooms, marker)

        async def raw(marker: str) -> None:
            await raw_fanout(client, rooms, raw_payload(marker), concurrency)

        livecue = livecue_variant(sender, rooms)
        variants: dict[str, Variant] = {"livecue": livecue, "seed": seed, "raw": raw}
        watch = CpuWatch().start()
        timed = await measure(variants, listeners, runs, server.pid)
        share = watch.stop()
        if share is not None:
            log(share.describe())
        if profiled:
            await profile(livecue, "livecue")
            await profile(raw, "raw")
        return timed
    finally:
        await sender.aclose()
        await client.aclose()
        await session.close()


def summarize(timed: Timed, rooms: int) -> dict[str, float]:
    """Medians per variant, logged with their CPU cost per room."""
    for name, values in timed.wall.items():
        per_room_us = median(timed.cpu[name]) / rooms * 1e6
        server_us = median(timed.server_cpu[name]) / rooms * 1e6
        log(
            f"{name}: runs {[round(v, 4) for v in values]}, sender CPU {per_room_us:.0f} us/room,"
            f" server CPU {server_us:.0f} us/room"
        )
    return {name: median(values) for name, values in timed.wall.items()}


async def idle_cpu_share(
    server: LiveKitServer, listeners: Listeners, seconds: float = 3.0
) -> float:
    """The share of the machine's CPUs the server and the listeners use while nothing is
    sent: the cost of keeping every participant's connection alive."""
    pids = [pid for pid in (server.pid, *listeners.pids) if pid is not None]

    def used() -> float:
        return sum(process_cpu_s(pid) or 0.0 for pid in pids)

    before = used()
    await asyncio.sleep(seconds)
    return (used() - before) / seconds / (os.cpu_count() or 1)


async def one_size(args: argparse.Namespace, count: int) -> dict[str, object]:
    rooms = [f"fan-{i:04d}" for i in range(count)]
    with LiveKitServer(empty_timeout_s=LISTENER_ROOM_TIMEOUT_S) as server:
        log(f"{count} rooms: joining their listeners, {args.join_concurrency} at a time")
        start = time.perf_counter()
        listeners = await Listeners.start(server, rooms, concurrency=args.join_concurrency)
        log(f"joined in {time.perf_counter() - start:.1f}s")
        try:
            idle = await idle_cpu_share(server, listeners)
            log(f"{count} rooms idle: server and listeners use {100 * idle:.0f}% of the CPUs")
            timed = await compare(
                server,
                listeners,
                api_url=server.url,
                concurrency=args.concurrency,
                runs=args.runs,
                profiled=args.profile,
            )
        finally:
            await listeners.close()
    result = summarize(timed, count)
    log(
        f"{count} rooms: seed/livecue = {result['seed'] / result['livecue']:.1f} (target >= 20), "
        f"livecue/raw = {result['livecue'] / result['raw']:.2f} (target <= 1.25)"
    )
    line: dict[str, object] = {"bench": NAME, "rooms": count, "idle_cpu": round(idle, 3)}
    line.update({f"{name}_s": rounded(result[name]) for name in VARIANTS})
    line.update({f"{name}_sends_per_s": round(count / result[name]) for name in VARIANTS})
    return line


async def run(args: argparse.Namespace) -> list[dict[str, object]]:
    lines: list[dict[str, object]] = []
    for count in args.rooms:
        try:
            lines.append(await one_size(args, count))
        except BenchFailure as exc:
            if not lines:
                raise
            # a size the machine cannot hold still leaves the smaller sizes' figures
            log(f"{count} rooms failed: {exc}")
            lines.append({"bench": NAME, "rooms": count, "error": str(exc)})
            break
    return lines
