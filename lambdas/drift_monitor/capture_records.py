"""SageMaker data-capture JSON lines -> feature columns and predicted labels: pure logic, no AWS.

One line per captured invocation (the format SageMaker writes, and `mlops/local/serving/capture.py` offline)::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "...",
     "encoding": "CSV"}, "endpointOutput": {...}}, "eventMetadata": {"eventId": "...", ...}, "eventVersion": "0"}

The request body is what the model's `input_fn` reads (pipeline_code/inference.py): CSV rows in the model's
feature order (the baseline's feature order: both come from the training frame), or JSON
`{"instances": [[...]] | [{...}]}` or one object. The response is `{"predictions": [{"label", ...}]}` or CSV
`label,probability` lines. In serving_mode "triton" the request is a KServe v2 tensor of *encoded* features and
the response Triton's `outputs` tensor: decoded with the model's feature encoding (triton_records.py), given as
`encoding`. A line that cannot be read that way (bad JSON, no captureData, a row of the wrong width, a BASE64
body, predictions that do not pair up with the rows, a tensor of the wrong shape or datatype) is one malformed
record: counted (with its reason in `skipped`) and skipped, never fatal.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from triton_records import FeatureEncoding, TensorError, is_tensor_request, request_rows, response_labels


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
    # serving_mode "triton": how the model's input tensor encodes the features (None: CSV/JSON records only)
    encoding: FeatureEncoding | None = None
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> malformed records

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
            try:
                parsed = read_record(line, self.features, self.encoding)
            except Malformed as exc:
                self.malformed += 1
                self.skipped[str(exc)] += 1
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


class Malformed(ValueError):
    """A capture line that is not a usable record; the message is the skip reason."""


def parse_record(
    line: str, features: Sequence[str], encoding: FeatureEncoding | None = None
) -> tuple[list[list[Any]], list[str | None], str | None] | None:
    """(rows, predicted labels, eventId) of one capture line, or None if the line is malformed."""
    try:
        return read_record(line, features, encoding)
    except Malformed:
        return None


def read_record(
    line: str, features: Sequence[str], encoding: FeatureEncoding | None = None
) -> tuple[list[list[Any]], list[str | None], str | None]:
    """(rows, predicted labels, eventId) of one capture line; raises Malformed with the reason."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Malformed("not a JSON line") from None
    capture = record.get("captureData") if isinstance(record, dict) else None
    if not isinstance(capture, dict):
        raise Malformed("no captureData")
    channel = capture.get("endpointInput")
    if not isinstance(channel, dict) or not isinstance(channel.get("data"), str):
        raise Malformed("no endpointInput data")
    content_type = str(channel.get("observedContentType", ""))
    if is_tensor_request(channel["data"], str(channel.get("encoding", "")), content_type):
        rows, labels = _tensor_record(capture, features, encoding)
    else:
        rows = _input_rows(channel, features)
        if rows is None:
            raise Malformed("request rows unreadable or of the wrong width")
        labels = _output_labels(capture.get("endpointOutput"))
    if labels is None:
        labels = [None] * len(rows)  # input-only capture: features still count, no predicted labels
    if len(labels) != len(rows):
        raise Malformed(f"{len(labels)} predictions for {len(rows)} rows")
    metadata = record.get("eventMetadata")
    event_id = metadata.get("eventId") if isinstance(metadata, dict) else None
    return rows, labels, event_id if isinstance(event_id, str) else None


def _tensor_record(
    capture: dict[str, Any], features: Sequence[str], encoding: FeatureEncoding | None
) -> tuple[list[list[Any]], list[str | None] | None]:
    """A Triton (KServe v2) request and response: rows in `features` order, and the predicted labels."""
    if encoding is None:
        raise Malformed("KServe v2 tensor request, but no feature encoding (the endpoint is not in triton mode)")
    missing = [name for name in features if name not in encoding.names]
    if missing:
        raise Malformed(f"tensor request: the feature encoding has no {missing}")
    channel = capture["endpointInput"]
    try:
        decoded = request_rows(
            channel["data"], str(channel.get("encoding", "")), str(channel.get("observedContentType", "")), encoding
        )
    except TensorError as exc:
        raise Malformed(f"tensor request: {exc}") from None
    position = {name: i for i, name in enumerate(encoding.names)}
    rows = [[row[position[name]] for name in features] for row in decoded]
    output = capture.get("endpointOutput")
    if not isinstance(output, dict) or not isinstance(output.get("data"), str):
        return rows, None
    try:
        labels: list[str | None] = list(
            response_labels(
                output["data"], str(output.get("encoding", "")), str(output.get("observedContentType", "")), encoding
            )
        )
    except TensorError as exc:
        raise Malformed(f"tensor response: {exc}") from None
    return rows, labels


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
