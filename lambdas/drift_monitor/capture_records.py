"""SageMaker data-capture JSON lines -> feature columns and predicted labels: pure logic, no AWS.

One line per captured invocation (the format SageMaker writes, and `mlops/serving/capture.py` offline)::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "...",
     "encoding": "CSV"}, "endpointOutput": {...}}, "eventMetadata": {"eventId": "...", ...}, "eventVersion": "0"}

The request body is what the model's `input_fn` reads (pipeline_code/inference.py): CSV rows in the model's
feature order (the baseline's feature order: both come from the training frame), or JSON
`{"instances": [[...]] | [{...}]}` or one object. The response is `{"predictions": [{"label", ...}]}` or CSV
`label,probability` lines. A line that cannot be read that way (bad JSON, no captureData, a row of the wrong
width, a BASE64 body, predictions that do not pair up with the rows) is one malformed record: counted and
skipped, never fatal.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class CaptureBatch:
    """Rows of the records that parsed, column by column, plus how many records did not."""

    features: Sequence[str]
    numeric: frozenset[str]
    cells: dict[str, list[Any]] = field(default_factory=dict)
    predictions: list[str | None] = field(default_factory=list)
    # eventId -> predicted labels of that invocation: joined later with ground truth (accuracy)
    events: dict[str, list[str | None]] = field(default_factory=dict)
    records: int = 0
    malformed: int = 0

    def __post_init__(self) -> None:
        self.cells = {name: [] for name in self.features}

    @property
    def rows(self) -> int:
        return len(self.predictions)

    def add_lines(self, lines: Iterable[str]) -> None:
        for line in lines:
            if not line.strip():
                continue
            self.records += 1
            parsed = parse_record(line, self.features)
            if parsed is None:
                self.malformed += 1
                continue
            rows, labels, event_id = parsed
            if event_id is not None and any(label is not None for label in labels):
                self.events[event_id] = labels
            for row, label in zip(rows, labels, strict=True):
                for name, value in zip(self.features, row, strict=True):
                    self.cells[name].append(value)
                self.predictions.append(label)

    def columns(self, target: str | None) -> tuple[dict[str, np.ndarray], dict[str, int]]:
        """Columns for drift_core's WindowAccumulator.update, and unparseable numeric cells per column.

        Predicted labels go in as the target column: the window's target distribution is then the predicted
        class mix, which drift_core compares with the training labels' priors (label shift).
        """
        columns: dict[str, np.ndarray] = {}
        unparseable: dict[str, int] = {}
        for name in self.features:
            if name in self.numeric:
                columns[name], unparseable[name] = _floats(self.cells[name])
            else:
                columns[name] = np.array([_category(v) for v in self.cells[name]], dtype=object)
        if target:
            columns[target] = np.array(self.predictions, dtype=object)
        return columns, unparseable


def parse_record(line: str, features: Sequence[str]) -> tuple[list[list[Any]], list[str | None], str | None] | None:
    """(rows, predicted labels, eventId) of one capture line, or None if the line is malformed."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    capture = record.get("captureData") if isinstance(record, dict) else None
    if not isinstance(capture, dict):
        return None
    rows = _input_rows(capture.get("endpointInput"), features)
    if rows is None:
        return None
    labels = _output_labels(capture.get("endpointOutput"))
    if labels is None:
        labels = [None] * len(rows)  # input-only capture: features still count, no predicted labels
    if len(labels) != len(rows):
        return None
    metadata = record.get("eventMetadata")
    event_id = metadata.get("eventId") if isinstance(metadata, dict) else None
    return rows, labels, event_id if isinstance(event_id, str) else None


def _input_rows(channel: Any, features: Sequence[str]) -> list[list[Any]] | None:
    if not isinstance(channel, dict) or not isinstance(channel.get("data"), str):
        return None
    encoding = str(channel.get("encoding", "")).upper()
    if encoding == "CSV":
        rows = [row for row in csv.reader(io.StringIO(channel["data"])) if row and row != [""]]
        if rows and [c.strip().lower() for c in rows[0]] == [f.lower() for f in features]:
            rows = rows[1:]  # a header row, which the model tolerates too
    elif encoding == "JSON":
        rows = _json_rows(channel["data"], features)
    else:
        return None  # BASE64: a content type the model does not read
    if not rows or any(len(row) != len(features) for row in rows):
        return None
    return rows


def _json_rows(data: str, features: Sequence[str]) -> list[list[Any]] | None:
    try:
        document = json.loads(data)
    except json.JSONDecodeError:
        return None
    if not isinstance(document, dict):
        return None
    instances = document.get("instances", [document])
    if not isinstance(instances, list):
        return None
    rows: list[list[Any]] = []
    for item in instances:
        if isinstance(item, list):
            rows.append(item)
        elif isinstance(item, dict) and set(item) == set(features):
            rows.append([item[name] for name in features])
        else:
            return None
    return rows


def _output_labels(channel: Any) -> list[str | None] | None:
    if not isinstance(channel, dict) or not isinstance(channel.get("data"), str):
        return None
    encoding = str(channel.get("encoding", "")).upper()
    data = channel["data"]
    if encoding == "JSON":
        try:
            predictions = json.loads(data).get("predictions")
        except (json.JSONDecodeError, AttributeError):
            return []  # an unreadable response: the record does not pair up and is malformed
        if not isinstance(predictions, list):
            return []
        return [str(p["label"]) if isinstance(p, dict) and "label" in p else None for p in predictions]
    if encoding == "CSV":
        return [row[0] for row in csv.reader(io.StringIO(data)) if row]
    return []


def _floats(values: list[Any]) -> tuple[np.ndarray, int]:
    """Numeric cells to float64 (empty/null -> NaN, missing); unparseable or infinite cells dropped and counted."""
    out: list[float] = []
    bad = 0
    for value in values:
        if value is None or (isinstance(value, str) and not value.strip()):
            out.append(math.nan)
            continue
        if isinstance(value, bool):
            bad += 1
            continue
        try:
            number = float(value)
        except (TypeError, ValueError):
            bad += 1
            continue
        if math.isinf(number):
            bad += 1
            continue
        out.append(number)
    return np.asarray(out, dtype=np.float64), bad


def _category(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None
