"""Real listening participants, one per room, in child processes that count their packets.

One process holds at most ``per_process`` participants (250 by default): past a few
hundred, a single process spends a whole core keeping its connections alive, joins
slow down and early participants drop out (1,000 in one process never finished
joining). Several processes share the machine's cores.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from harness.livekit_server import LiveKitServer

from ._common import ROOT, BenchFailure

LISTENER_ROOM_TIMEOUT_S = 3600
"""The empty timeout of a server whose rooms hold listeners only. The listeners join as
agents (livecue sends a room's cues to its agents), and a room with nobody but agents in
it is closed once the empty timeout has passed since it was made."""


def check_once(counts: Mapping[str, int], label: str) -> str:
    """A one-line summary if every room got exactly one packet; otherwise fail loudly."""
    histogram = Counter(counts.values())
    summary = ", ".join(f"{rooms} rooms got {n}" for n, rooms in sorted(histogram.items()))
    if set(histogram) != {1}:
        bad = [r for r, n in counts.items() if n != 1][:5]
        raise BenchFailure(f"{label}: delivery was not exactly once ({summary}); e.g. {bad}")
    return f"{label}: {summary}"


class Listeners:
    """One listening participant per room, spread over ``bench._listen`` child processes."""

    def __init__(self, shards: Sequence[_ListenerProcess], rooms: Sequence[str]) -> None:
        self._shards = list(shards)
        self.rooms = list(rooms)

    @classmethod
    async def start(
        cls,
        server: LiveKitServer,
        rooms: Sequence[str],
        *,
        concurrency: int = 10,
        per_process: int = 250,
    ) -> Listeners:
        slices = [rooms[at : at + per_process] for at in range(0, len(rooms), per_process)]
        shards: list[_ListenerProcess] = []
        try:
            # one after another: each joins its share as fast as the server takes it
            for part in slices:
                shards.append(await _ListenerProcess.start(server, part, concurrency=concurrency))
        except BaseException:
            await asyncio.gather(*(s.close() for s in shards), return_exceptions=True)
            raise
        return cls(shards, rooms)

    async def counts(
        self, rooms: Sequence[str], marker: str, *, timeout_s: float, settle_s: float = 0.0
    ) -> dict[str, int]:
        """Packets carrying ``marker`` per room, once all have one (or ``timeout_s`` passed)."""
        wanted = set(rooms)
        parts = await asyncio.gather(
            *(
                shard.counts(
                    [r for r in shard.rooms if r in wanted],
                    marker,
                    timeout_s=timeout_s,
                    settle_s=settle_s,
                )
                for shard in self._shards
            )
        )
        return {room: n for part in parts for room, n in part.items()}

    async def expect_once(self, marker: str, label: str, timeout_s: float = 10.0) -> str:
        """Every room got exactly one packet carrying ``marker`` (a summary), or fail loudly."""
        # settle: a duplicate, if any, has time to arrive too
        counts = await self.counts(self.rooms, marker, timeout_s=timeout_s, settle_s=0.05)
        return check_once(counts, label)

    @property
    def pids(self) -> list[int]:
        return [shard.pid for shard in self._shards]

    async def close(self) -> None:
        await asyncio.gather(*(s.close() for s in self._shards), return_exceptions=True)


class _ListenerProcess:
    """A ``bench._listen`` child process with one listening participant per room."""

    def __init__(self, proc: asyncio.subprocess.Process, rooms: Sequence[str]) -> None:
        self._proc = proc
        self.rooms = list(rooms)

    @property
    def pid(self) -> int:
        return self._proc.pid

    @classmethod
    async def start(
        cls, server: LiveKitServer, rooms: Sequence[str], *, concurrency: int = 10
    ) -> _ListenerProcess:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench._listen",
            cwd=ROOT,
            env={**os.environ, **server.env},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        listeners = cls(proc, rooms)
        try:
            request = {"op": "join", "rooms": list(rooms), "concurrency": concurrency}
            await listeners._request(request)
        except BaseException:
            await listeners.close()
            raise
        return listeners

    async def counts(
        self, rooms: Sequence[str], marker: str, *, timeout_s: float, settle_s: float = 0.0
    ) -> dict[str, int]:
        """Packets carrying ``marker`` per room, once all have one (or ``timeout_s`` passed)."""
        request = {
            "op": "counts",
            "rooms": list(rooms),
            "marker": marker,
            "timeout_s": timeout_s,
            "settle_s": settle_s,
        }
        counts: dict[str, int] = (await self._request(request))["counts"]
        return counts

    async def _request(self, message: dict[str, Any]) -> dict[str, Any]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self._proc.stdin.drain()
        line = await self._proc.stdout.readline()
        if not line:
            code = await self._proc.wait()
            raise BenchFailure(f"the listener process exited with {code} (its error is above)")
        answer: dict[str, Any] = json.loads(line)
        return answer

    async def close(self) -> None:
        if self._proc.returncode is None:
            assert self._proc.stdin is not None
            try:
                self._proc.stdin.write(b'{"op": "close"}\n')
                await self._proc.stdin.drain()
                self._proc.stdin.close()
                await asyncio.wait_for(self._proc.wait(), 20)
            except (OSError, asyncio.TimeoutError):
                self._proc.kill()
                await self._proc.wait()
