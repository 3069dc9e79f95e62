"""Retry delays: exponential backoff with full jitter (pure), and the policy that uses them.

Everything in livecue that retries — the sender, the gateway's durable retries, the
agent's gateway client — takes its delays from here.
"""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them."""

    max_attempts: int = 4
    base_s: float = 0.25
    cap_s: float = 5.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError("backoff needs 0 < base_s <= cap_s")

    def delay(self, retry: int, jitter: float) -> float:
        """Seconds to wait before retry number ``retry`` (0 for the first), ``jitter`` in [0, 1)."""
        return backoff_delay(retry, jitter=jitter, base_s=self.base_s, cap_s=self.cap_s)
