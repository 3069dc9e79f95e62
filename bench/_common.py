"""Small helpers shared by the benchmarks: logging, statistics, paths."""

from __future__ import annotations

import math
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
"""The project directory (holds ``harness/``, ``examples/``, ``.venv/``)."""


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
