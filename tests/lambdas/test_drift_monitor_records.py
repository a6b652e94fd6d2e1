"""The drift monitor's pure readers: capture records in every request format the model reads, ground truth."""

from __future__ import annotations

import json
from importlib import import_module
from typing import Any

import pytest

from drift_core.capture_codec import decode_line

FEATURES = ["student", "balance", "income"]


@pytest.fixture(scope="module")
def records() -> Any:
    return import_module("lambdas.drift_monitor.capture_records")


@pytest.fixture(scope="module")
def truth() -> Any:
    return import_module("lambdas.drift_monitor.ground_truth")


def line(data: str, encoding: str, output: str | None = '{"predictions": [{"label": "No"}]}') -> str:
    capture: dict[str, Any] = {"endpointInput": {"data": data, "encoding": encoding, "mode": "INPUT"}}
    if output is not None:
        capture["endpointOutput"] = {"data": output, "encoding": "JSON", "mode": "OUTPUT"}
    return json.dumps({"captureData": capture, "eventMetadata": {"eventId": "e1"}, "eventVersion": "0"})


@pytest.mark.parametrize(
    "data",
    [
        '{"instances": [["No", 100.5, 20000]]}',
        '{"instances": [{"student": "No", "balance": 100.5, "income": 20000}]}',
        '{"student": "No", "balance": 100.5, "income": 20000}',
    ],
)
def test_json_requests_in_every_shape_the_model_reads(data: str) -> None:
    record = decode_line(line(data, "JSON"), FEATURES)
    assert (record.rows, record.labels, record.event_id) == ([["No", 100.5, 20000]], ["No"], "e1")


def test_csv_requests_with_a_header_row_and_several_rows() -> None:
    outputs = '{"predictions": [{"label": "No"}, {"label": "Yes"}]}'
    data = "student,balance,income\nNo,1,2\nYes,3,4\n"
    record = decode_line(line(data, "CSV", outputs), FEATURES)
    assert record.rows == [["No", "1", "2"], ["Yes", "3", "4"]] and record.labels == ["No", "Yes"]


def test_csv_responses_and_input_only_capture() -> None:
    csv_out = json.loads(line("No,1,2", "CSV"))
    csv_out["captureData"]["endpointOutput"] = {"data": "Yes,0.9\n", "encoding": "CSV"}
    assert decode_line(json.dumps(csv_out), FEATURES).labels == ["Yes"]
    assert decode_line(line("No,1,2", "CSV", output=None), FEATURES).labels == [None]


def test_columns_parse_numbers_and_count_bad_cells(records) -> None:
    batch = records.CaptureBatch(FEATURES, frozenset({"balance", "income"}))
    batch.add_lines([line("No,1.5,", "CSV"), line("Yes,abc,inf", "CSV"), "", line("No,1", "CSV")])
    assert (batch.records, batch.malformed, batch.rows) == (3, 1, 2)
    columns, unparseable = batch.columns("default")
    assert columns["balance"].tolist() == [1.5] and unparseable == {"balance": 1, "income": 1}
    assert columns["income"].size == 1 and columns["default"].tolist() == ["No", "No"]
    assert batch.events == {"e1": ["No"]}


def test_ground_truth_lines_and_the_join(truth) -> None:
    gt = truth.GroundTruth()
    gt.add_lines(
        [
            json.dumps({"groundTruthData": {"data": "Yes", "encoding": "CSV"}, "eventMetadata": {"eventId": "a"}}),
            json.dumps({"groundTruthData": {"data": "No\nYes", "encoding": "CSV"}, "eventMetadata": {"eventId": "b"}}),
            json.dumps({"groundTruthData": {"data": "x", "encoding": "BASE64"}, "eventMetadata": {"eventId": "c"}}),
            "{broken",
        ]
    )
    assert (gt.records, gt.malformed, gt.labels) == (4, 2, {"a": ["Yes"], "b": ["No", "Yes"]})
    joined = truth.join(gt.labels, {"a": ["No"], "b": ["No"]})  # b: one prediction for two labels
    assert (joined.labels, joined.predictions, joined.unmatched) == (["Yes"], ["No"], 1)
