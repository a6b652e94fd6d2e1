"""SageMaker data-capture JSON lines -> rows of features and predicted labels: one codec for the drift Lambda and
`mlops drift check` (stdlib only, shipped in the Lambda layer with drift_core; runs on Python 3.9).

One line per captured invocation, as SageMaker writes it
(https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture.html) and the local endpoint does::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "...",
     "encoding": "CSV"}, "endpointOutput": {...}}, "eventMetadata": {"eventId": "...", ...}, "eventVersion": "0"}

The request body is what the model's `input_fn` reads (pipeline_code/inference.py): CSV rows in the model's
feature order (a header row is tolerated), or JSON `{"instances": [[...] | {...}, ...]}` or one object keyed by the
feature names. The response is `{"predictions": [{"label", ...}]}` or CSV `label,probability` lines; an
input-only capture gives no labels. Other request shapes (Triton's KServe v2 tensors) are read by a `TensorDecoder`
the caller passes in. A line that cannot be read that way is `Malformed`, with the reason; `read_lines` names it
by source and line number, and the caller decides whether that is fatal (the CLI) or counted and skipped (the
Lambda).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

# Aliases evaluated at run time: Optional, not `X | None`, which Python 3.9 (the SageMaker images) cannot evaluate.
Rows = list[list[Any]]  # feature values in the caller's feature order
Labels = list[Optional[str]]  # one predicted label per row
# (captureData, features) -> (rows, labels or None) when the request is in the decoder's format, else None.
TensorDecoder = Callable[[dict[str, Any], Sequence[str]], Optional[tuple[Rows, Optional[Labels]]]]


class Malformed(ValueError):
    """A capture line that is not a usable record; the message is the reason."""


@dataclass(frozen=True)
class CaptureRecord:
    """One captured invocation: its request rows, one predicted label per row (None when the response was not
    captured), and SageMaker's eventId (to join ground truth)."""

    rows: Rows
    labels: Labels
    event_id: str | None
    # the model's probability of each predicted label (None where the response carries none): CBPE's input
    probabilities: list[float | None] = field(default_factory=list)


@dataclass(frozen=True)
class LineError:
    """A malformed line, named by where it came from."""

    source: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.reason}"


def is_capture(record: object) -> bool:
    """Whether a parsed JSON line is a capture record (rather than a plain record of named fields)."""
    return isinstance(record, dict) and "captureData" in record


def decode_line(line: str, features: Sequence[str], tensor: TensorDecoder | None = None) -> CaptureRecord:
    """One capture line; raises Malformed with the reason."""
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise Malformed("not a JSON line") from None
    return decode_record(record, features, tensor)


def decode_record(record: object, features: Sequence[str], tensor: TensorDecoder | None = None) -> CaptureRecord:
    """One parsed capture record; raises Malformed with the reason."""
    if not isinstance(record, dict):
        raise Malformed("no captureData")
    capture = record.get("captureData")
    if not isinstance(capture, dict):
        raise Malformed("no captureData")
    channel = capture.get("endpointInput")
    if not isinstance(channel, dict) or not isinstance(channel.get("data"), str):
        raise Malformed("no endpointInput data")
    decoded = tensor(capture, features) if tensor is not None else None
    probabilities: list[float | None] = []
    if decoded is not None:
        rows, labels = decoded
    else:
        rows = request_rows(channel, features)
        labels = response_labels(capture.get("endpointOutput"))
        probabilities = response_probabilities(capture.get("endpointOutput"))
    if labels is None:
        labels = [None] * len(rows)  # input-only capture: features still count, no predicted labels
    if len(labels) != len(rows):
        raise Malformed(f"{len(labels)} predictions for {len(rows)} rows")
    metadata = record.get("eventMetadata")
    event_id = metadata.get("eventId") if isinstance(metadata, dict) else None
    if len(probabilities) != len(rows):
        probabilities = [None] * len(rows)
    return CaptureRecord(rows, labels, event_id if isinstance(event_id, str) else None, probabilities)


def read_lines(
    lines: Iterable[str], features: Sequence[str], source: str, tensor: TensorDecoder | None = None
) -> Iterator[CaptureRecord | LineError]:
    """Each non-blank line as a CaptureRecord, or a LineError naming `source` and the line number."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            yield decode_line(line, features, tensor)
        except Malformed as exc:
            yield LineError(source, number, str(exc))


def request_rows(channel: dict, features: Sequence[str]) -> Rows:
    """The request's rows in `features` order (CSV or JSON, `instances` unwrapped); raises Malformed."""
    encoding = str(channel.get("encoding", "")).upper()
    data = channel.get("data")
    if not isinstance(data, str):
        raise Malformed("no endpointInput data")
    if encoding == "CSV":
        rows = [row for row in csv.reader(io.StringIO(data)) if row and row != [""]]
        if rows and [c.strip().lower() for c in rows[0]] == [f.lower() for f in features]:
            rows = rows[1:]  # a header row, which the model tolerates too
    elif encoding == "JSON":
        rows = _json_rows(data, features)
    else:
        raise Malformed(f"request encoding {encoding or 'none'!r} is not CSV or JSON")  # BASE64: not for the model
    if not rows:
        raise Malformed("request has no rows")
    for row in rows:
        if len(row) != len(features):
            raise Malformed(f"request row of {len(row)} values, the model has {len(features)} features")
    return rows


def _json_rows(data: str, features: Sequence[str]) -> Rows:
    try:
        document = json.loads(data)
    except json.JSONDecodeError:
        raise Malformed("request body is not valid JSON") from None
    if not isinstance(document, dict):
        raise Malformed("JSON request is not an object")
    instances = document.get("instances", [document])
    if not isinstance(instances, list):
        raise Malformed("JSON request: 'instances' is not a list")
    rows: Rows = []
    for item in instances:
        if isinstance(item, list):
            rows.append(item)
        elif isinstance(item, dict) and set(item) == set(features):
            rows.append([item[name] for name in features])
        else:
            raise Malformed("JSON request: an instance is neither a list nor an object of the model's features")
    return rows


def response_labels(channel: Any) -> Labels | None:
    """Predicted labels of the response: None when no response was captured, [] when it is unreadable (so the
    record does not pair up and is malformed)."""
    predictions = _response_predictions(channel)
    return None if predictions is None else [label for label, _ in predictions]


def response_probabilities(channel: Any) -> list[float | None]:
    """The model's probability of each predicted label: the JSON `probability`, or the second CSV field ([] when
    the response has none or is unreadable; a value outside [0, 1] is None)."""
    return [probability for _, probability in _response_predictions(channel) or []]


def _response_predictions(channel: Any) -> list[tuple[str | None, float | None]] | None:
    """(label, probability) per prediction; None when no response was captured, [] when it is unreadable."""
    if not isinstance(channel, dict) or not isinstance(channel.get("data"), str):
        return None
    encoding = str(channel.get("encoding", "")).upper()
    data = channel["data"]
    if encoding == "JSON":
        try:
            predictions = json.loads(data).get("predictions")
        except (json.JSONDecodeError, AttributeError):
            return []
        if not isinstance(predictions, list):
            return []
        return [
            (str(p["label"]) if "label" in p else None, _probability(p.get("probability")))
            if isinstance(p, dict)
            else (None, None)
            for p in predictions
        ]
    if encoding == "CSV":
        return [
            (row[0], _probability(row[1]) if len(row) > 1 else None) for row in csv.reader(io.StringIO(data)) if row
        ]
    return []


def _probability(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if 0.0 <= number <= 1.0 else None
