"""The metric data CloudWatch stored, read as an alarm reads it, and the statistics an alarm computes over it.

The raw stored datums in moto's CloudWatch are read (whatever `put_metric_data` received, including the Lambdas'
EMF records that `mlops.twin.emulators.emf.put_emf` forwards there) rather than moto's
`get_metric_statistics`/`get_metric_data`, because moto 5.2.5 matches dimensions as a subset there (AWS: the exact
set), ignores the namespace in `get_metric_data` when dimensions are given, and computes no percentile.

Percentiles use the nearest-rank definition; a statistic set counts only if it can be expanded to raw values
(SampleCount 1, or Minimum == Maximum), as AWS documents.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from mlops.twin.emulators.alarm_definitions import PERCENTILE, UnsupportedAlarm


@dataclass(frozen=True)
class Sample:
    """One stored datum: a raw value or a statistic set; `values` holds the raw values when they are known."""

    timestamp: datetime
    count: float
    total: float
    minimum: float
    maximum: float
    values: tuple[float, ...] | None


class MetricSource(Protocol):
    def samples(
        self, namespace: str, name: str, dimensions: Mapping[str, str], unit: str | None, start: datetime, end: datetime
    ) -> list[Sample]: ...


@dataclass
class MotoMetricStore:
    """The datums moto's CloudWatch stored, selected as AWS selects a metric: namespace, name, exact dimensions."""

    account: str
    region: str

    def samples(
        self, namespace: str, name: str, dimensions: Mapping[str, str], unit: str | None, start: datetime, end: datetime
    ) -> list[Sample]:
        from moto.cloudwatch.models import MetricAggregatedDatum, MetricDatum, cloudwatch_backends

        backend = cloudwatch_backends[self.account][self.region]
        wanted = dict(dimensions)
        out = []
        for datum in backend.get_all_metrics():
            if datum.namespace != namespace or datum.name != name:
                continue
            if {d.name: d.value for d in datum.dimensions} != wanted or (unit and datum.unit != unit):
                continue
            when = utc(datum.timestamp)
            if not start <= when < end:
                continue
            if isinstance(datum, MetricDatum):
                v = float(datum.value)
                out.append(Sample(when, 1.0, v, v, v, (v,)))
            elif isinstance(datum, MetricAggregatedDatum):
                out.append(_statistic_set(when, datum.sample_count, datum.sum, datum.min, datum.max))
        return out


def _statistic_set(when: datetime, count: float, total: float, low: float, high: float) -> Sample:
    # AWS can compute percentiles over a statistic set only when its raw values are implied by it.
    expandable = low == high and math.isclose(total, low * count) and float(count).is_integer()
    values = (float(low),) * int(count) if expandable else None
    return Sample(when, float(count), float(total), float(low), float(high), values)


def statistic(name: str, samples: Sequence[Sample]) -> float | None:
    """A CloudWatch statistic of one period's samples; None when the period has no (usable) data."""
    count = sum(s.count for s in samples)
    if not samples or count <= 0:
        return None
    if name == "SampleCount":
        return count
    if name == "Sum":
        return sum(s.total for s in samples)
    if name == "Average":
        return sum(s.total for s in samples) / count
    if name == "Minimum":
        return min(s.minimum for s in samples)
    if name == "Maximum":
        return max(s.maximum for s in samples)
    if PERCENTILE.match(name):
        if any(s.values is None for s in samples):
            return None
        values = sorted(v for s in samples for v in s.values or ())
        # Nearest rank; rounded first so that 0.9 * 10 is 9, not 9.000000000000002.
        rank = max(1, math.ceil(round(float(name[1:]) * len(values) / 100, 9)))
        return values[rank - 1]
    raise UnsupportedAlarm(f"statistic {name!r} is not evaluated by the twin")


def significant_samples(percentile: str) -> float:
    """The samples a period needs for `percentile` to count under EvaluateLowSampleCountPercentile=ignore."""
    q = float(percentile[1:]) / 100
    if 0.5 <= q < 1:
        return 10 / (1 - q)
    return 10 / q if 0 < q < 0.5 else 0.0


def utc(moment: datetime) -> datetime:
    """`moment` in UTC (a naive datetime is taken as UTC, as CloudWatch takes timestamps without a zone)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
