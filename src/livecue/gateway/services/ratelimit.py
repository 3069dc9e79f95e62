"""Token buckets per key (API key, room), pure: the caller passes ``now``."""

from __future__ import annotations

from collections import OrderedDict


class TokenBuckets:
    """``rate`` tokens per second, up to ``burst``, one bucket per key.

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
        tokens = min(self.burst, tokens + max(0.0, now - last) * self.rate)
        if tokens >= cost:
            self._buckets[key] = (tokens - cost, now)
            wait = 0.0
        else:
            self._buckets[key] = (tokens, now)
            wait = (cost - tokens) / self.rate
        if len(self._buckets) > self._max_keys:
            self._buckets.popitem(last=False)
        return wait
