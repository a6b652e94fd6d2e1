"""EMF ingestion: the Lambdas' metrics, as Powertools prints them, put into moto's CloudWatch.

moto has no log-based metric extraction, so the twin captures the EMF records a handler prints and puts them with
`put_metric_data`, where the alarms read them (mlops.twin.emulators.metric_data).
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from mlops.twin.emulators.metric_data import utc


def emf_documents(text: str) -> list[dict[str, Any]]:
    """The EMF records in captured log output: JSON lines carrying `_aws.CloudWatchMetrics`."""
    documents = []
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            document = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(document, dict) and "CloudWatchMetrics" in (document.get("_aws") or {}):
            documents.append(document)
    return documents


@contextlib.contextmanager
def capture_emf() -> Iterator[list[dict[str, Any]]]:
    """Collect the EMF records printed while the block runs (Powertools prints them to stdout).

    stdout is process-wide: other threads' prints during the block are swallowed (only EMF lines are kept).
    """
    documents: list[dict[str, Any]] = []
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        yield documents
    documents.extend(emf_documents(buffer.getvalue()))


def emf_metric_data(document: Mapping[str, Any], timestamp: datetime | None = None) -> dict[str, list[dict[str, Any]]]:
    """`put_metric_data` entries by namespace for one EMF record, per the EMF specification.

    Each dimension set of a directive yields one metric; values are a number or an array of numbers; the
    record's own `Timestamp` (ms) is used unless `timestamp` is given (the twin's clock, not wall time).
    """
    meta = document.get("_aws")
    if not isinstance(meta, Mapping) or not isinstance(meta.get("CloudWatchMetrics"), list):
        raise ValueError("not an EMF record: no _aws.CloudWatchMetrics")
    when = utc(timestamp) if timestamp else datetime.fromtimestamp(int(meta["Timestamp"]) / 1000, UTC)
    out: dict[str, list[dict[str, Any]]] = {}
    for directive in meta["CloudWatchMetrics"]:
        namespace = directive["Namespace"]
        for dimension_set in directive.get("Dimensions") or [[]]:
            dimensions = []
            for name in dimension_set:
                if not isinstance(document.get(name), str):
                    raise ValueError(f"EMF dimension {name!r} has no string value in the record")
                dimensions.append({"Name": name, "Value": document[name]})
            for metric in directive["Metrics"]:
                name = metric["Name"]
                if name not in document:
                    raise ValueError(f"EMF metric {name!r} has no value in the record")
                raw = document[name]
                values = [float(v) for v in (raw if isinstance(raw, list) else [raw])]
                datum: dict[str, Any] = {
                    "MetricName": name,
                    "Dimensions": dimensions,
                    "Timestamp": when,
                    "Unit": metric.get("Unit", "None"),
                    "Values": values,
                }
                if metric.get("StorageResolution"):
                    datum["StorageResolution"] = int(metric["StorageResolution"])
                out.setdefault(namespace, []).append(datum)
    return out


def put_emf(cloudwatch: Any, documents: Iterable[Mapping[str, Any] | str], timestamp: datetime | None = None) -> int:
    """Put EMF records (dicts or JSON text) into CloudWatch with `put_metric_data`; returns the metrics put."""
    count = 0
    for document in documents:
        parsed = json.loads(document) if isinstance(document, str) else document
        for namespace, data in emf_metric_data(parsed, timestamp).items():
            for start in range(0, len(data), 20):  # PutMetricData's historical per-call limit
                cloudwatch.put_metric_data(Namespace=namespace, MetricData=data[start : start + 20])
            count += len(data)
    return count
