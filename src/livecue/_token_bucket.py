"""Token-bucket arithmetic (pure): the caller passes ``now``."""

from __future__ import annotations


def refill(tokens: float, last: float, now: float, *, rate: float, burst: float) -> float:
    """Tokens in a bucket that held ``tokens`` at ``last``, refilled at ``rate`` per second
    up to ``burst``, at ``now``."""
    return min(burst, tokens + max(0.0, now - last) * rate)
