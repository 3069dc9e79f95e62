"""Retry delays: exponential backoff with full jitter (pure)."""

from __future__ import annotations


def backoff_delay(
    attempt: int, *, jitter: float, base_s: float = 0.25, cap_s: float = 5.0
) -> float:
    """Delay before retry number ``attempt`` (0 for the first retry).

    ``jitter`` is a number in [0, 1) from the caller's random source; spreading
    retries over the whole window keeps many senders from retrying in step.
    """
    if attempt < 0:
        raise ValueError("attempt must be >= 0")
    if not 0.0 <= jitter < 1.0:
        raise ValueError("jitter must be in [0, 1)")
    ceiling = min(cap_s, base_s * (2.0 ** min(attempt, 32)))
    return ceiling * jitter
