"""Prometheus metrics, in a registry of the app's own (nothing global)."""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector


class _CuesByState(Collector):
    """Cues per state, as last counted from the store (refreshed by the dispatcher)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily("livecue_cues", "Cues in the store, by state", labels=["state"])
        for state, n in sorted(self.counts.items()):
            family.add_metric([state], n)
        yield family


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.cues_by_state = _CuesByState()
        self.registry.register(self.cues_by_state)
        self.transitions = Counter(
            "livecue_cue_transitions",
            "Cue state changes",
            ["state"],
            registry=self.registry,
        )
        self.outcomes = Counter(
            "livecue_cue_outcomes",
            "Cues finished, by the agent's final outcome (or the gateway's, for expiry)",
            ["outcome"],
            registry=self.registry,
        )
        self.cue_duration = Histogram(
            "livecue_cue_duration_seconds",
            "From a cue's acceptance to its final state",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            registry=self.registry,
        )
        self.delivery_latency = Histogram(
            "livecue_delivery_latency_seconds",
            "From a cue's acceptance to an agent having it",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.webhook_verifications = Counter(
            "livecue_webhook_verifications",
            "Inbound and LiveKit webhook verifications, by result",
            ["hook", "result"],
            registry=self.registry,
        )
        self.rate_limited = Counter(
            "livecue_rate_limited", "Requests refused with 429", ["limit"], registry=self.registry
        )
