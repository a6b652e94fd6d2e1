"""The CloudWatch metrics of one drift run, from drift_core's report: pure logic, no AWS.

Names and dimensions are a contract with the MonitoringStack's alarms: both import them from contracts/metrics.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contracts.metrics import (
    ACCURACY,
    DRIFTED,
    GROUND_TRUTH_MATCHED,
    GROUND_TRUTH_UNMATCHED,
    KS,
    LABEL_SHIFT,
    MALFORMED,
    MEAN_SHIFT_SIGMA,
    OBJECTS,
    PSI,
    ROWS,
)

# report key -> metric name, for each feature (None values, e.g. KS of a categorical feature, are not sent)
PER_FEATURE = {"mean_shift_sigma": MEAN_SHIFT_SIGMA, "psi": PSI, "ks": KS}


@dataclass(frozen=True)
class Metric:
    name: str
    value: float
    unit: str  # a Powertools MetricUnit value
    feature: str | None = None


def run_metrics(report: Mapping[str, Any], *, objects: int, records: int, malformed: int) -> list[Metric]:
    """Metrics of a run over `objects` capture objects holding `records` records, `malformed` of them skipped."""
    metrics = [
        Metric(OBJECTS, float(objects), "Count"),
        Metric(MALFORMED, float(malformed), "Count"),
        Metric(ROWS, float(report.get("rows") or 0), "Count"),
    ]
    if not report.get("rows"):
        return metrics  # an empty window has no statistics (drift_core reports them as null)
    metrics.append(Metric(DRIFTED, float(len(report.get("drifted_features", []))), "Count"))
    for name, stats in report.get("features", {}).items():
        for key, metric in PER_FEATURE.items():
            value = stats.get(key)
            if value is not None:
                metrics.append(Metric(metric, float(value), "None", name))
    label_shift = report.get("label_shift") or {}
    if label_shift.get("linf") is not None:
        metrics.append(Metric(LABEL_SHIFT, float(label_shift["linf"]), "None"))
    return metrics


def quality_metrics(model_quality: Mapping[str, Any] | None, *, matched: int, unmatched: int) -> list[Metric]:
    """Accuracy of captured predictions against ground truth (drift_core's model_quality), and the join's
    coverage."""
    metrics = [
        Metric(GROUND_TRUTH_MATCHED, float(matched), "Count"),
        Metric(GROUND_TRUTH_UNMATCHED, float(unmatched), "Count"),
    ]
    if model_quality and model_quality.get("accuracy") is not None:
        metrics.append(Metric(ACCURACY, float(model_quality["accuracy"]), "None"))
    return metrics
