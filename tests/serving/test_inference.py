"""Unit tests of pipeline_code/inference.py, loaded by path exactly as the local endpoint loads it."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from mlops.local.serving.handler import INFERENCE_PATH, load_inference_module

pytestmark = pytest.mark.container


@pytest.fixture(scope="module")
def inf() -> ModuleType:
    return load_inference_module()


@pytest.fixture(scope="module")
def model(inf: ModuleType, model_v1: Path) -> Any:
    return inf.model_fn(str(model_v1))


def _run(inf: ModuleType, model: Any, body: str | bytes, ctype: str, accept: str = "application/json") -> Any:
    return inf.output_fn(inf.predict_fn(inf.input_fn(body, ctype), model), accept)


def _error(inf: ModuleType, model: Any, body: str | bytes, ctype: str, accept: str = "application/json") -> Any:
    with pytest.raises(inf.PayloadError) as info:
        _run(inf, model, body, ctype, accept)
    return info.value


def test_imports_only_what_the_sagemaker_container_has() -> None:
    tree = ast.parse(INFERENCE_PATH.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add((node.module or "").split(".")[0])
    # xgboost only for the XGBoost engine's models, imported when one is loaded: its framework container has it.
    allowed = {"numpy", "pandas", "sklearn", "joblib", "xgboost", "__future__"}
    assert roots - allowed <= set(sys.stdlib_module_names), roots


def test_csv_rows_give_csv_labels_and_probabilities(inf: ModuleType, model: Any) -> None:
    body, ctype = _run(inf, model, "No,2500,40000\nYes,10,20000\n", "text/csv", "text/csv")
    assert ctype == "text/csv"
    lines = body.strip().splitlines()
    assert [line.split(",")[0] for line in lines] == ["Yes", "No"]
    assert all(0.5 <= float(line.split(",")[1]) <= 1.0 for line in lines)


def test_csv_header_row_is_tolerated(inf: ModuleType, model: Any) -> None:
    body, _ = _run(inf, model, "student,balance,income\nNo,2500,40000\n", "text/csv; charset=utf-8")
    predictions = json.loads(body)["predictions"]
    assert len(predictions) == 1
    assert predictions[0]["label"] == "Yes" and predictions[0]["model_version"] == "v1"


def test_json_lists_objects_and_single_object_agree(inf: ModuleType, model: Any) -> None:
    as_lists = _run(inf, model, json.dumps({"instances": [["No", 2500, 40000]]}), "application/json")
    record = {"student": "No", "balance": 2500, "income": 40000}
    as_objects = _run(inf, model, json.dumps({"instances": [record]}), "application/json")
    single = _run(inf, model, json.dumps(record).encode(), "application/json")
    assert as_lists == as_objects == single
    assert json.loads(single[0])["predictions"][0]["label"] == "Yes"


def test_missing_values_are_imputed(inf: ModuleType, model: Any) -> None:
    body, _ = _run(inf, model, "No,,\n", "text/csv")
    assert json.loads(body)["predictions"][0]["label"] in ("No", "Yes")
    body, _ = _run(inf, model, json.dumps({"instances": [[None, None, 3.0]]}), "application/json")
    assert len(json.loads(body)["predictions"]) == 1


def test_accept_wildcard_and_lists(inf: ModuleType, model: Any) -> None:
    assert _run(inf, model, "No,1,1", "text/csv", "*/*")[1] == "application/json"
    assert _run(inf, model, "No,1,1", "text/csv", "application/xml, text/csv;q=0.5")[1] == "text/csv"


@pytest.mark.parametrize(
    ("body", "ctype", "status", "fragments"),
    [
        ("No,1,2,3\n", "text/csv", 400, ["row 1", "4 values", "expected 3"]),
        ("No,1,2\nYes,5\n", "text/csv", 400, ["row 2", "2 values"]),
        ("No,1,2\nYes,abc,3\n", "text/csv", 400, ["row 2", "'balance'", "'abc'"]),
        ("No,1,inf\n", "text/csv", 400, ["row 1", "'income'", "finite"]),
        ('{"instances": [["No", 1, true]]}', "application/json", 400, ["row 1", "'income'"]),
        ('{"instances": [{"student": "No", "balance": 1}]}', "application/json", 400, ["row 1", "'income'"]),
        (
            '{"instances": [{"student": "No", "balance": 1, "income": 2, "age": 3}]}',
            "application/json",
            400,
            ["unknown column 'age'"],
        ),
        ('{"instances": [', "application/json", 400, ["not valid JSON"]),
        ('{"instances": []}', "application/json", 400, ["non-empty"]),
        ("[1, 2, 3]", "application/json", 400, ["must be an object"]),
        ("", "text/csv", 400, ["empty request body"]),
        ("   \n", "application/json", 400, ["empty request body"]),
        ("student,balance,income\n", "text/csv", 400, ["no data rows"]),
        ("No,1,2", "application/x-parquet", 415, ["unsupported content type", "application/x-parquet"]),
        (b"\xff\xfe", "text/csv", 400, ["not UTF-8"]),
    ],
)
def test_malformed_payloads_are_client_errors(
    inf: ModuleType, model: Any, body: str | bytes, ctype: str, status: int, fragments: list[str]
) -> None:
    error = _error(inf, model, body, ctype)
    assert error.status_code == status
    for fragment in fragments:
        assert fragment in error.message


def test_unsupported_accept_is_406(inf: ModuleType, model: Any) -> None:
    error = _error(inf, model, "No,1,2", "text/csv", "application/xml")
    assert error.status_code == 406 and "application/xml" in error.message


def test_model_fn_names_missing_file(inf: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"model\.joblib"):
        inf.model_fn(str(tmp_path))


def test_in_the_sagemaker_container_a_malformed_request_is_answered_4xx_not_500(
    inf: ModuleType, model: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The container wraps exceptions from input_fn/predict_fn into 500s; errors must reach output_fn as values.

    The container's worker module is stood in by a minimal one with its Response signature (the real one is not
    installable here); the point is which function answers and with which status.
    """

    class Response:
        def __init__(self, response: str, status: int, mimetype: str) -> None:
            self.response, self.status, self.mimetype = response, status, mimetype

    worker = ModuleType("sagemaker_containers.beta.framework.worker")
    worker.Response = Response  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sagemaker_containers.beta.framework.worker", worker)
    parsed = inf.input_fn("1,2\n", "text/csv")  # must not raise in input_fn
    predicted = inf.predict_fn(parsed, model)  # nor in predict_fn
    answer = inf.output_fn(predicted, "application/json")
    assert answer.status == 400 and "row 1 has 2 values" in answer.response
    assert inf.output_fn(inf.predict_fn(inf.input_fn("x", "image/png"), model), "application/json").status == 415
