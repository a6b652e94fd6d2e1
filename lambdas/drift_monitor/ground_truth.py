"""Ground-truth labels (SageMaker's ground-truth JSON lines) joined with captured predictions: pure logic, no AWS.

The application writes one line per labelled invocation to the capture bucket under the ground-truth prefix,
the format Model Monitor's model-quality job reads too::

    {"groundTruthData": {"data": "Yes", "encoding": "CSV"}, "eventMetadata": {"eventId": "..."},
     "eventVersion": "0"}

`data` holds one label per row of the captured request (one line each). A line that is not of that shape is
malformed: counted and skipped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class GroundTruth:
    labels: dict[str, list[str]] = field(default_factory=dict)  # eventId -> true labels
    records: int = 0
    malformed: int = 0

    def add_lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            if not line.strip():
                continue
            self.records += 1
            parsed = _parse(line)
            if parsed is None:
                self.malformed += 1
            else:
                self.labels[parsed[0]] = parsed[1]


def _parse(line: str) -> tuple[str, list[str]] | None:
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    if not isinstance(record, dict):
        return None
    data, metadata = record.get("groundTruthData"), record.get("eventMetadata")
    if not isinstance(data, dict) or not isinstance(metadata, dict):
        return None
    event_id, text = metadata.get("eventId"), data.get("data")
    if not isinstance(event_id, str) or not isinstance(text, str) or str(data.get("encoding", "CSV")).upper() != "CSV":
        return None
    labels = [part.strip() for part in text.splitlines() if part.strip()]
    return (event_id, labels) if labels else None


@dataclass(frozen=True)
class Joined:
    labels: list[str]
    predictions: list[str]
    unmatched: int  # ground-truth records without a (matching) captured prediction


def join(truth: Mapping[str, Sequence[str]], predictions: Mapping[str, Sequence[str | None]]) -> Joined:
    """Row-aligned (label, prediction) pairs of the invocations present on both sides."""
    labels: list[str] = []
    predicted: list[str] = []
    unmatched = 0
    for event_id, true_labels in truth.items():
        pred = predictions.get(event_id)
        if pred is None or len(pred) != len(true_labels) or any(p is None for p in pred):
            unmatched += 1
            continue
        labels.extend(true_labels)
        predicted.extend(str(p) for p in pred)
    return Joined(labels, predicted, unmatched)
