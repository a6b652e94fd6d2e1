"""drift_core's capture codec: the one reader of SageMaker data-capture lines, used by `mlops drift check` and the
drift Lambda alike (CSV and JSON payloads, `instances` wrapping, malformed lines named by file and line)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from drift_core.capture_codec import CaptureRecord, LineError, Malformed, decode_line, read_lines
from lambdas.drift_monitor import capture_records
from mlops.cli.main import main

FEATURES = ["student", "balance", "income"]


def capture_line(data: str, encoding: str, output: str | None = None, event_id: str | None = "e1") -> str:
    capture: dict[str, Any] = {"endpointInput": {"data": data, "encoding": encoding, "mode": "INPUT"}}
    if output is not None:
        capture["endpointOutput"] = {"data": output, "encoding": "JSON", "mode": "OUTPUT"}
    record: dict[str, Any] = {"captureData": capture, "eventVersion": "0"}
    if event_id is not None:
        record["eventMetadata"] = {"eventId": event_id}
    return json.dumps(record)


def test_csv_payload_rows_labels_and_event_id() -> None:
    line = capture_line("No,1.5,20\nYes,3,40\n", "CSV", '{"predictions": [{"label": "No"}, {"label": "Yes"}]}')
    rows, labels = [["No", "1.5", "20"], ["Yes", "3", "40"]], ["No", "Yes"]
    assert decode_line(line, FEATURES) == CaptureRecord(rows, labels, "e1", [None, None])  # no probability sent


def test_csv_header_row_is_skipped_and_input_only_capture_has_no_labels() -> None:
    record = decode_line(capture_line("Student,balance,income\nNo,1,2", "CSV", event_id=None), FEATURES)
    assert record == CaptureRecord([["No", "1", "2"]], [None], None, [None])


@pytest.mark.parametrize(
    ("output", "encoding", "expected"),
    [
        ('{"predictions": [{"label": "No", "probability": 0.9}, {"label": "Yes", "probability": 0.6}]}', "JSON",
         [0.9, 0.6]),
        ("No,0.9\nYes,0.6\n", "CSV", [0.9, 0.6]),
        ('{"predictions": [{"label": "No", "probability": 1.5}, {"label": "Yes", "probability": true}]}', "JSON",
         [None, None]),  # outside [0, 1], or not a number: no probability
    ],
)  # fmt: skip
def test_the_models_probabilities_are_read_for_performance_estimation(
    output: str, encoding: str, expected: list[float | None]
) -> None:
    capture: dict[str, Any] = {
        "endpointInput": {"data": "No,1.5,20\nYes,3,40\n", "encoding": "CSV", "mode": "INPUT"},
        "endpointOutput": {"data": output, "encoding": encoding, "mode": "OUTPUT"},
    }
    record = decode_line(json.dumps({"captureData": capture, "eventMetadata": {"eventId": "e1"}}), FEATURES)
    assert record.labels == ["No", "Yes"] and record.probabilities == expected


@pytest.mark.parametrize(
    "data",
    [
        '{"instances": [["No", 100.5, 20000]]}',
        '{"instances": [{"income": 20000, "student": "No", "balance": 100.5}]}',
        '{"student": "No", "balance": 100.5, "income": 20000}',
    ],
)
def test_json_payload_with_and_without_instances(data: str) -> None:
    assert decode_line(capture_line(data, "JSON"), FEATURES).rows == [["No", 100.5, 20000]]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not a JSON line"),
        ('{"eventVersion": "0"}', "no captureData"),
        (capture_line("No,1", "CSV"), "request row of 2 values, the model has 3 features"),
        (capture_line("Tm8sMSwy", "BASE64"), "request encoding 'BASE64' is not CSV or JSON"),
        (capture_line('{"instances": 5}', "JSON"), "JSON request: 'instances' is not a list"),
        (capture_line('{"instances": [{"student": "No"}]}', "JSON"), "JSON request: an instance is neither"),
        (capture_line("No,1,2", "CSV", '{"predictions": []}'), "0 predictions for 1 rows"),
    ],
)
def test_malformed_records_say_why(line: str, reason: str) -> None:
    with pytest.raises(Malformed, match=reason.replace("(", r"\(").replace(")", r"\)")):
        decode_line(line, FEATURES)


def test_read_lines_names_malformed_lines_by_source_and_line_number() -> None:
    lines = [capture_line("No,1,2", "CSV"), "", "{bad", capture_line("Yes,3,4", "CSV")]
    out = list(read_lines(lines, FEATURES, "capture/part-0.jsonl"))
    assert [type(item) for item in out] == [CaptureRecord, LineError, CaptureRecord]
    assert str(out[1]) == "capture/part-0.jsonl:3: not a JSON line"


# ---- both users read through the codec ---------------------------------------------------------------------


def test_the_drift_lambda_unwraps_instances_like_the_cli() -> None:
    batch = capture_records.CaptureBatch(FEATURES, frozenset({"balance", "income"}))
    batch.add_lines([capture_line('{"instances": [["No", 1.5, 2], ["Yes", 3, 4]]}', "JSON"), "{bad"])
    assert batch.rows == 2 and batch.malformed == 1 and batch.skipped == {"not a JSON line": 1}
    columns, _ = batch.columns(None)
    assert columns["balance"].tolist() == [1.5, 3.0]


@pytest.fixture
def baseline(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    rows = [{"student": "No" if i % 3 else "Yes", "balance": float(i % 97), "income": 1000.0 + i} for i in range(300)]
    frame = pd.DataFrame(rows)
    train = tmp_path / "train.csv"
    frame.to_csv(train, index=False)
    assert main(["drift", "baseline", "--data", str(train), "--out", str(tmp_path / "base")]) == 0
    return tmp_path / "base", frame


def _check(capsys: pytest.CaptureFixture[str], base: Path, data: Path) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["drift", "check", "--baseline", str(base), "--data", str(data), "--json", "--min-rows", "1"])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_reads_instances_wrapped_json_captures_as_the_csv_ones(
    baseline: tuple[Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, frame = baseline
    records = frame.to_dict(orient="records")
    as_csv, as_json = tmp_path / "csv.jsonl", tmp_path / "json.jsonl"
    as_csv.write_text("\n".join(capture_line(f"{r['student']},{r['balance']},{r['income']}", "CSV") for r in records))
    wrapped = [
        capture_line(json.dumps({"instances": [[r["student"], r["balance"], r["income"]]]}), "JSON") for r in records
    ]
    as_json.write_text("\n".join(wrapped))
    code_a, a, _ = _check(capsys, base, as_csv)
    code_b, b, _ = _check(capsys, base, as_json)
    ra, rb = json.loads(a), json.loads(b)
    assert code_a == code_b == 0 and ra["rows"] == rb["rows"] == 300
    assert ra["features"] == rb["features"]


def test_cli_names_the_file_and_line_of_a_malformed_capture(
    baseline: tuple[Path, pd.DataFrame], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base, _ = baseline
    data = tmp_path / "capture.jsonl"
    data.write_text("\n".join([capture_line("No,1,2", "CSV"), capture_line("No,1", "CSV")]) + "\n")
    code, out, err = _check(capsys, base, data)
    assert code == 2 and out == ""
    assert (
        err
        == f"mlops: error: {data}:2: capture record unreadable (request row of 2 values, the model has 3 features)\n"
    )
