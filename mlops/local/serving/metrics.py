"""Per-variant counters, the local stand-in for SageMaker's per-variant CloudWatch metrics.

Invocations, ModelError-like 5XX errors, 4XX errors and ModelLatency; the deployment's error alarm and the
offline twin read them through :meth:`VariantMetrics.snapshot`.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass

# Bounded so that a long-running endpoint keeps constant memory; percentiles cover the recent window.
_LATENCY_WINDOW = 20_000


@dataclass(frozen=True)
class VariantStats:
    name: str
    model_version: str
    role: str
    traffic_percent: float
    invocations: int
    errors_5xx: int
    errors_4xx: int
    in_flight: int
    latency_p50_ms: float
    latency_p99_ms: float
    latency_mean_ms: float

    @property
    def error_rate(self) -> float:
        return self.errors_5xx / self.invocations if self.invocations else 0.0


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted list (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


class VariantMetrics:
    """Thread-safe counters; ``record`` is O(1) so it adds nothing noticeable to a request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.invocations = 0
        self.errors_5xx = 0
        self.errors_4xx = 0
        self.in_flight = 0
        self._latency_total = 0.0
        self._latencies: deque[float] = deque(maxlen=_LATENCY_WINDOW)

    def begin(self) -> None:
        with self._lock:
            self.in_flight += 1

    def end(self, latency_s: float, status: int) -> None:
        with self._lock:
            self.in_flight -= 1
            self.invocations += 1
            if status >= 500:
                self.errors_5xx += 1
            elif status >= 400:
                self.errors_4xx += 1
            self._latency_total += latency_s
            self._latencies.append(latency_s)

    def counts(self) -> tuple[int, int, int]:
        """(invocations, 5xx errors, in-flight), read atomically for the alarm."""
        with self._lock:
            return self.invocations, self.errors_5xx, self.in_flight

    def snapshot(self, name: str, model_version: str, role: str, traffic_percent: float) -> VariantStats:
        with self._lock:
            latencies = sorted(self._latencies)
            invocations, e5, e4, in_flight = (
                self.invocations,
                self.errors_5xx,
                self.errors_4xx,
                self.in_flight,
            )
            mean = self._latency_total / invocations if invocations else 0.0
        return VariantStats(
            name=name,
            model_version=model_version,
            role=role,
            traffic_percent=traffic_percent,
            invocations=invocations,
            errors_5xx=e5,
            errors_4xx=e4,
            in_flight=in_flight,
            latency_p50_ms=percentile(latencies, 0.50) * 1000.0,
            latency_p99_ms=percentile(latencies, 0.99) * 1000.0,
            latency_mean_ms=mean * 1000.0,
        )
