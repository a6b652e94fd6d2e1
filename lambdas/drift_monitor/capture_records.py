"""SageMaker data-capture JSON lines -> feature columns and predicted labels: pure logic, no AWS.

One line per captured invocation (the format SageMaker writes, and `mlops/local/serving/capture.py` offline)::

    {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "...",
     "encoding": "CSV"}, "endpointOutput": {...}}, "eventMetadata": {"eventId": "...", ...}, "eventVersion": "0"}

Reading a line (CSV or JSON request, `instances` unwrapped, response labels, the eventId) is drift_core's
capture codec (drift_core/capture_codec.py), the same as `mlops drift check`. Only serving_mode "triton" is read
here: the request is a KServe v2 tensor of *encoded* features and the response Triton's `outputs` tensor, decoded
with the model's feature encoding (triton_records.py), given as `encoding`. A line that cannot be read (bad JSON,
no captureData, a row of the wrong width, a BASE64 body, predictions that do not pair up with the rows, a tensor
of the wrong shape or datatype) is one malformed record: counted (with its reason in `skipped`) and skipped, never
fatal.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from drift_core.capture_codec import Labels, Malformed, Rows, TensorDecoder, decode_line
from lambdas.drift_monitor.triton_records import (
    FeatureEncoding,
    TensorError,
    is_tensor_request,
    request_rows,
    response_labels,
)

__all__ = ["CaptureBatch", "FeatureEncoding", "Malformed"]


@dataclass
class CaptureBatch:
    """Rows of the records that parsed, column by column, plus how many records did not."""

    features: Sequence[str]
    numeric: frozenset[str]
    cells: dict[str, list[Any]] = field(default_factory=dict)
    predictions: list[str | None] = field(default_factory=list)
    # the model's probability of each predicted label (None where the response carries none): CBPE's input
    probabilities: list[float | None] = field(default_factory=list)
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
                record = decode_line(line, self.features, _tensor_decoder(self.encoding))
            except Malformed as exc:
                self.malformed += 1
                self.skipped[str(exc)] += 1
                continue
            rows, labels, event_id = record.rows, record.labels, record.event_id
            if event_id is not None and any(label is not None for label in labels):
                self.events[event_id] = labels
            for row, label, probability in zip(rows, labels, record.probabilities, strict=True):
                for name, value in zip(self.features, row, strict=True):
                    self.cells[name].append(value)
                self.predictions.append(label)
                self.probabilities.append(probability)

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
        if any(p is not None for p in self.probabilities):
            columns[PROBABILITY] = np.array([math.nan if p is None else p for p in self.probabilities], dtype=float)
        return columns, unparseable


PROBABILITY = "__probability__"  # the column of the model's probabilities (not a model feature)


def _tensor_decoder(encoding: FeatureEncoding | None) -> TensorDecoder:
    """The codec's hook for Triton's KServe v2 tensors: None for a request that is not one."""

    def decode(capture: dict[str, Any], features: Sequence[str]) -> tuple[Rows, Labels | None] | None:
        channel = capture["endpointInput"]
        content_type = str(channel.get("observedContentType", ""))
        if not is_tensor_request(channel["data"], str(channel.get("encoding", "")), content_type):
            return None
        return _tensor_record(capture, features, encoding)

    return decode


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
