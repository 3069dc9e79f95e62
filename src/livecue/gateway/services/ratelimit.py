"""Rate limits per API key and per room: token buckets, in this process or shared.

With SQLite there is one gateway, and its buckets live in memory. With PostgreSQL
several instances share each limit: the bucket is a row, and an instance takes its
tokens in small chunks (a fiftieth of a second's worth), keeping them in memory
until spent. Tokens are taken from the shared bucket before they are used, so the
instances together never admit more than the limit; at worst a few chunks sit
unused in idle instances for a moment.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Protocol

from ..._token_bucket import refill
from ...store import SharedLimits

CHUNK_S = 0.02
"""An instance takes this many seconds' worth of a shared limit's tokens at a time."""


class TokenBuckets:
    """``rate`` tokens per second, up to ``burst``, one bucket per key; pure (``now`` passed in).

    Buckets untouched the longest are forgotten past ``max_keys``; a forgotten
    bucket comes back full, which only ever errs towards letting a request in.
    """

    def __init__(self, rate: float, burst: float, *, max_keys: int = 100_000) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens: 0.0 if allowed, else the seconds to wait before retrying."""
        tokens, last = self._buckets.pop(key, (self.burst, now))
        tokens = refill(tokens, last, now, rate=self.rate, burst=self.burst)
        if tokens >= cost:
            self._buckets[key] = (tokens - cost, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (cost - tokens) / self.rate
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait


class RateLimit(Protocol):
    async def take(self, key: str, now: float) -> float:
        """0.0 if a request for ``key`` may go ahead, else the seconds to wait."""


class LocalRateLimit:
    """One process's limit (the SQLite gateway)."""

    def __init__(self, rate: float, burst: float) -> None:
        self._buckets = TokenBuckets(rate, burst)

    async def take(self, key: str, now: float) -> float:
        return self._buckets.take(key, now)


class SharedRateLimit:
    """A limit all instances share through the store (the PostgreSQL gateway)."""

    def __init__(self, store: SharedLimits, name: str, rate: float, burst: float) -> None:
        self._store = store
        self._name = name
        self.rate = rate
        self.burst = burst
        self._chunk = max(1.0, rate * CHUNK_S)
        self._held: OrderedDict[str, float] = OrderedDict()  # tokens taken, not yet spent
        self._empty_until: dict[str, float] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def take(self, key: str, now: float) -> float:
        if self._held.get(key, 0.0) >= 1.0:
            self._held[key] -= 1.0
            return 0.0
        if self._empty_until.get(key, 0.0) > now:  # asked a moment ago: still empty
            return self._empty_until[key] - now
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one round trip per key at a time; the others share its chunk
            if self._held.get(key, 0.0) >= 1.0:
                self._held[key] -= 1.0
                return 0.0
            granted = await self._store.take_tokens(
                f"{self._name}:{key}", rate=self.rate, burst=self.burst, want=self._chunk, now=now
            )
            held = self._held.pop(key, 0.0) + granted
            if held >= 1.0:
                self._held[key] = held - 1.0
                self._trim()
                return 0.0
            self._held[key] = held
            wait = (1.0 - held) / self.rate
            self._empty_until[key] = now + wait
            if len(self._empty_until) > 100_000:
                self._empty_until.clear()
            return wait

    def _trim(self) -> None:
        while len(self._held) > 100_000:
            self._held.popitem(last=False)
            self._locks.clear()
