"""Helpers shared by the benchmarks: logging, statistics, paths, and the parts the two
one-cue-at-a-time latency benchmarks (``latency``, ``e2e_latency``) have in common.

Imported by ``_gateway_trace`` inside the gateway under test too, so nothing heavy is
imported at module level: livekit and the harness are imported where they are used.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from livekit import api, rtc

    from harness.livekit_server import LiveKitServer

ROOT = Path(__file__).resolve().parent.parent
"""The project directory (holds ``harness/``, ``examples/``, ``.venv/``)."""

UNLIMITED = "1000000"
"""A rate limit (per second) that a benchmark's load never reaches."""

RAW_TOPIC = "bench"

Column = Callable[[int], Awaitable[float]]
"""One send of a timed column: takes the round number, returns seconds."""


def log(message: str) -> None:
    """Progress and details go to stderr; stdout carries only the result line."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def use_examples() -> None:
    """Make ``examples/`` importable (``harness.agent`` needs its scripted model)."""
    path = str(ROOT / "examples")
    if path not in sys.path:
        sys.path.insert(0, path)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0..100), interpolated between the nearest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def rounded(value: float, digits: int = 4) -> float:
    return round(value, digits)


class BenchFailure(RuntimeError):
    """The benchmark could not produce a trustworthy figure (lost packets, timeouts)."""


def gateway_env(trace_file: Path | None) -> dict[str, str]:
    """Variables for a gateway under test: no rate limit in the way; tracing into a file."""
    env = {"LIVECUE_RATE_PER_KEY": UNLIMITED, "LIVECUE_RATE_PER_ROOM": UNLIMITED}
    if trace_file is not None:
        from . import _gateway_trace  # it imports this module

        env.update(_gateway_trace.environment(trace_file, ROOT))
    return env


# -- one cue at a time: latency and e2e_latency ------------------------------------------


def add_round_arguments(parser: argparse.ArgumentParser, *, sends: int) -> None:
    parser.add_argument("--sends", type=int, default=sends, help="timed sends per column")
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


async def arrival(future: asyncio.Future[Any], what: str, timeout_s: float) -> Any:
    """The future's value; a :class:`BenchFailure` naming ``what`` if it takes too long."""
    try:
        return await asyncio.wait_for(future, timeout_s)
    except asyncio.TimeoutError:
        raise BenchFailure(f"{what} never reached its listener within {timeout_s}s") from None


async def join_rooms(
    server: LiveKitServer, stack: contextlib.AsyncExitStack, agent_room: str, raw_room: str
) -> Arrivals:
    """An observer and an agent in ``agent_room``; a listener and a bystander in ``raw_room``.

    Their callbacks are wired to the returned :class:`Arrivals`; ``stack`` undoes each
    step that was taken.
    """
    from harness.agent import start_agent
    from harness.observer import Observer
    from harness.participants import join

    observer = await Observer.join(server, agent_room)
    stack.push_async_callback(observer.leave)
    agent = await start_agent(server, agent_room)
    stack.push_async_callback(agent.stop)
    listener = await join(server, raw_room, "listener")
    stack.push_async_callback(listener.disconnect)
    # the agent's room also holds the user (the observer): give the raw room a second too
    bystander = await join(server, raw_room, "user")
    stack.push_async_callback(bystander.disconnect)

    arrivals = Arrivals()
    agent.cues.on("cue_received", arrivals.on_cue_received)
    agent.cues.on("cue_applied", arrivals.on_outcome)
    agent.cues.on("cue_dropped", arrivals.on_outcome)
    listener.on("data_received", arrivals.on_raw)
    return arrivals


def raw_column(client: api.LiveKitAPI, arrivals: Arrivals, room: str, timeout_s: float) -> Column:
    """A bare ``send_data`` of livekit-api to a plain ``data_received`` handler: the floor."""
    from livekit import api

    async def send(seq: int) -> float:
        payload = json.dumps({"seq": seq, "ns": time.time_ns()}).encode()
        received = arrivals.expect_raw(payload)
        request = api.SendDataRequest(
            room=room, data=payload, kind=api.DataPacket.Kind.RELIABLE, topic=RAW_TOPIC
        )
        start = time.perf_counter()
        await client.room.send_data(request)
        return float(await arrival(received, f"raw packet {seq}", timeout_s) - start)

    return send


async def measure(columns: dict[str, Column], sends: int, warmup: int) -> dict[str, list[float]]:
    """``warmup`` untimed rounds, then ``sends`` timed ones; the order rotates each round,
    so machine noise falls on all columns alike."""
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


def summarize(samples: Mapping[str, list[float]], prefixes: Mapping[str, str]) -> dict[str, float]:
    """``{prefix}p50_ms`` and ``{prefix}p99_ms`` of each column named in ``prefixes``
    (logged, with its slowest send)."""
    result: dict[str, float] = {}
    for name, prefix in prefixes.items():
        values = samples[name]
        p50, p99 = median(values), percentile(values, 99)
        worst = max(range(len(values)), key=values.__getitem__)
        log(
            f"{name}: p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {values[worst]:.3f} ms (send {worst})"
        )
        result[f"{prefix}p50_ms"] = rounded(p50, 3)
        result[f"{prefix}p99_ms"] = rounded(p99, 3)
    return result
