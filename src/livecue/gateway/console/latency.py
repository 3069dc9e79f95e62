"""The overview's latency chart: delivery times in 5-minute buckets, drawn as SVG geometry.

Pure: the page's template draws what :func:`latency_chart` computes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Bucket:
    start: float
    count: int
    p50_ms: float | None
    p95_ms: float | None


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0-100) of sorted ``values`` (not empty)."""
    rank = max(1, math.ceil(q / 100 * len(values)))
    return values[rank - 1]


def latency_buckets(
    times: Sequence[tuple[float, float]], *, now: float, span_s: float = 3600, step_s: float = 300
) -> list[Bucket]:
    """(created_at, delivered_at) pairs as p50/p95 of the delivery time per ``step_s`` bucket,
    oldest first, the last bucket holding ``now`` (buckets start on multiples of ``step_s``)."""
    end = (math.floor(now / step_s) + 1) * step_s
    count = math.ceil(span_s / step_s)
    start = end - count * step_s
    delays: list[list[float]] = [[] for _ in range(count)]
    for created, delivered in times:
        index = math.floor((created - start) / step_s)
        if 0 <= index < count:
            delays[index].append(max(0.0, delivered - created) * 1000)
    buckets = []
    for index, found in enumerate(delays):
        found.sort()
        buckets.append(
            Bucket(
                start=start + index * step_s,
                count=len(found),
                p50_ms=percentile(found, 50) if found else None,
                p95_ms=percentile(found, 95) if found else None,
            )
        )
    return buckets


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 5 × 10^n at or above ``value`` (the chart's top)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 5):
        if step * power >= value * (1 - 1e-9):
            return float(step * power)
    return float(10 * power)


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    p50_y: float
    p50_height: float
    p95_y: float
    p95_height: float
    bucket: Bucket


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    top_ms: float
    plot_left: float
    plot_bottom: float
    bars: list[Bar]
    """One per bucket with deliveries (an empty bucket draws nothing)."""
    gridlines: list[tuple[float, float]]
    """(y, milliseconds) of the horizontal lines."""
    labels: list[tuple[float, float]]
    """(x, bucket start) of the time labels along the bottom."""


def latency_chart(
    buckets: Sequence[Bucket], *, width: int = 640, height: int = 180, label_every: int = 3
) -> Chart:
    """Bars for p95 (behind) and p50 (in front) per bucket, on a scale from 0 to a round top."""
    left, right, top, bottom = 48.0, 8.0, 8.0, 24.0
    plot_w, plot_h = width - left - right, height - top - bottom
    top_ms = nice_ceiling(max((b.p95_ms or 0.0) for b in buckets) if buckets else 0.0)
    slot = plot_w / max(1, len(buckets))
    base = top + plot_h

    def y(ms: float) -> float:
        return base - plot_h * min(ms, top_ms) / top_ms

    bars = [
        Bar(
            x=left + i * slot + slot * 0.15,
            width=slot * 0.7,
            p50_y=y(b.p50_ms),
            p50_height=base - y(b.p50_ms),
            p95_y=y(b.p95_ms),
            p95_height=base - y(b.p95_ms),
            bucket=b,
        )
        for i, b in enumerate(buckets)
        if b.p50_ms is not None and b.p95_ms is not None
    ]
    gridlines = [(y(top_ms * f), top_ms * f) for f in (0.0, 0.5, 1.0)]
    labels = [(left + i * slot, b.start) for i, b in enumerate(buckets) if i % label_every == 0]
    return Chart(width, height, top_ms, left, base, bars, gridlines, labels)
