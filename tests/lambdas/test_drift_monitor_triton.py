"""Drift monitoring of a Triton endpoint: KServe v2 tensors of encoded features decoded back to feature values.

Pure decoding (triton_records, capture_records) and the drift function's path against moto: the package's
feature_encoding.json next to its Triton archive (as PackageTriton writes it), capture files as SageMaker writes
them (JSON lines, captureData.endpointInput {observedContentType, mode, data, encoding}).
"""

from __future__ import annotations

import base64
import dataclasses
import json
import struct
import uuid
from importlib import import_module
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pipeline_code.triton_repository import encode_record, feature_encoding
from tests.lambdas import test_drift_monitor as base
from tests.lambdas.test_drift_monitor import (
    ARTIFACT_BUCKET,
    INCOME_SHIFT,
    NOW,
    K,
    approve,
    by_feature,
    emf,
    put_capture,
    put_ground_truth,
    sample,
)

# The drift monitor tests' fixtures (moto clients, the handler module, the ISLR Default data and its baseline).
aws, handler, settings, frame, baseline_dir = base.aws, base.handler, base.settings, base.frame, base.baseline_dir

FEATURES = ["student", "balance", "income"]
META = {
    "features": FEATURES,
    "categorical_features": ["student"],
    "categories": {"student": ["No", "Yes"]},
    "classes": ["No", "Yes"],
    "target": "default",
}
ENCODING = feature_encoding(META)
ARCHIVE_PREFIX = "pipelines/run-1/triton"
BINARY = "application/vnd.sagemaker-triton.binary+json"


@pytest.fixture(scope="module")
def records() -> Any:
    return import_module("lambdas.drift_monitor.capture_records")


@pytest.fixture(scope="module")
def tensors() -> Any:
    return import_module("lambdas.drift_monitor.triton_records")


def request(rows: list[dict[str, Any]], nested: bool = True, **overrides: Any) -> str:
    vectors = [encode_record(ENCODING, row) for row in rows]
    data = vectors if nested else [v for vector in vectors for v in vector]
    tensor = {"name": "input__0", "datatype": "FP32", "shape": [len(rows), 3], "data": data, **overrides}
    return json.dumps({"inputs": [tensor]})


def response(probabilities: list[float]) -> str:
    tensor = {"name": "output__0", "datatype": "FP32", "shape": [len(probabilities), 1], "data": probabilities}
    return json.dumps({"model_name": "mlops-models-v1", "model_version": "1", "outputs": [tensor]})


def binary_request(rows: list[dict[str, Any]]) -> tuple[str, str]:
    """Triton's binary-tensor extension (how NaN travels), BASE64 as SageMaker captures it; (data, content type)."""
    values = [v for row in rows for v in encode_record(ENCODING, row)]
    raw = struct.pack(f"<{len(values)}f", *values)
    tensor = {
        "name": "input__0",
        "datatype": "FP32",
        "shape": [len(rows), 3],
        "parameters": {"binary_data_size": len(raw)},
    }
    header = json.dumps({"inputs": [tensor]}).encode()
    content_type = f"{BINARY};json-header-size={len(header)}"
    return base64.b64encode(header + raw).decode(), content_type


def line(
    data: str,
    output: str | None,
    encoding: str = "JSON",
    content_type: str = "application/json",
    event_id: str | None = None,
) -> str:
    capture: dict[str, Any] = {
        "endpointInput": {"observedContentType": content_type, "mode": "INPUT", "data": data, "encoding": encoding}
    }
    if output is not None:
        capture["endpointOutput"] = {
            "observedContentType": "application/json",
            "mode": "OUTPUT",
            "data": output,
            "encoding": "JSON",
        }
    metadata = {"eventId": event_id or str(uuid.uuid4()), "inferenceTime": f"{NOW:%Y-%m-%dT%H:%M:%SZ}"}
    return json.dumps({"captureData": capture, "eventMetadata": metadata, "eventVersion": "0"})


def encoding_of(tensors: Any) -> Any:
    return tensors.FeatureEncoding.from_document(json.loads(json.dumps(ENCODING)))


# ---- pure decoding -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("nested", [True, False])
def test_a_tensor_decodes_back_to_the_feature_values(tensors, nested: bool) -> None:
    rows = [
        {"student": "Yes", "balance": 817.25, "income": 12106.5},
        {"student": "No", "balance": None, "income": 44361.0},  # missing -> NaN -> missing
        {"student": "Maybe", "balance": 1.5, "income": 2.0},  # unseen level -> NaN -> missing
    ]
    document = json.loads(request(rows, nested=nested))
    decoded = tensors.decode_rows(document["inputs"][0], encoding_of(tensors))
    assert decoded == [["Yes", 817.25, 12106.5], ["No", None, 44361.0], [None, 1.5, 2.0]]


def test_binary_tensors_carry_missing_values(tensors) -> None:
    data, content_type = binary_request([{"student": "No", "balance": 10.5, "income": None}])
    assert tensors.request_rows(data, "BASE64", content_type, encoding_of(tensors)) == [["No", 10.5, None]]


def test_labels_follow_the_models_rule(tensors) -> None:
    document = json.loads(response([0.1, 0.5, 0.93]))
    assert tensors.decode_labels(document["outputs"][0], encoding_of(tensors)) == ["No", "No", "Yes"]
    multi = tensors.FeatureEncoding.from_document({**ENCODING, "classes": ["a", "b", "c"]})
    tensor = {"name": "output__0", "datatype": "FP32", "shape": [2, 3], "data": [[0.2, 0.7, 0.1], [0.5, 0.2, 0.3]]}
    assert tensors.decode_labels(tensor, multi) == ["b", "a"]


def test_triton_capture_gives_the_same_columns_as_csv_capture(records, frame: pd.DataFrame) -> None:
    rows = sample(frame, 50, 7)
    as_dicts = rows[FEATURES].to_dict("records")
    encoding = records.FeatureEncoding.from_document(ENCODING)
    triton = records.CaptureBatch(FEATURES, frozenset({"balance", "income"}), encoding=encoding)
    labels = [1.0 if label == "Yes" else 0.0 for label in rows["default"]]
    triton.add_lines(
        [line(request(as_dicts[:20]), response(labels[:20])), line(request(as_dicts[20:]), response(labels[20:]))]
    )
    csv = records.CaptureBatch(FEATURES, frozenset({"balance", "income"}))
    csv.add_lines(
        json.dumps(
            {
                "captureData": {
                    "endpointInput": {"data": f"{r.student},{r.balance},{r.income}", "encoding": "CSV"},
                    "endpointOutput": {"data": f"{r.default},0.9", "encoding": "CSV"},
                }
            }
        )
        for r in rows.itertuples(index=False)
    )
    (t_columns, t_bad), (c_columns, c_bad) = triton.columns("default"), csv.columns("default")
    assert (triton.malformed, triton.rows, t_bad) == (0, 50, c_bad)
    assert list(t_columns["student"]) == list(c_columns["student"])
    assert list(t_columns["default"]) == list(c_columns["default"])
    for name in ("balance", "income"):  # FP32 on the wire: equal to float32 precision
        np.testing.assert_allclose(t_columns[name], c_columns[name], rtol=1e-6)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (request([{"student": "No", "balance": 1, "income": 2}], datatype="INT64"), "datatype 'INT64', expected FP32"),
        (request([{"student": "No", "balance": 1, "income": 2}], shape=[1, 4]), "shape [1, 4], expected [rows, 3]"),
        (request([{"student": "No", "balance": 1, "income": 2}], shape=[2, 3]), "3 values for shape [2, 3]"),
        (request([{"student": "No", "balance": 1, "income": 2}], name="x"), "named 'x', expected 'input__0'"),
        (request([{"student": "No", "balance": 1, "income": 2}], data=[[5.0, 1.0, 2.0]]), "category index 5.0"),
        (request([{"student": "No", "balance": 1, "income": 2}], data=[["a", 1.0, 2.0]]), "not a (nested) list"),
        (json.dumps({"inputs": []}), "expected one tensor in 'inputs', found 0"),
    ],
)
def test_a_bad_tensor_is_one_malformed_record_with_its_reason(records, body: str, reason: str) -> None:
    batch = records.CaptureBatch(
        FEATURES, frozenset({"balance", "income"}), encoding=records.FeatureEncoding.from_document(ENCODING)
    )
    batch.add_lines([line(body, response([0.2]))])
    assert (batch.records, batch.malformed, batch.rows) == (1, 1, 0)
    [(skipped, count)] = batch.skipped.items()
    assert count == 1 and skipped.startswith("tensor request: ") and reason in skipped


def test_a_bad_response_tensor_and_a_tensor_without_encoding_are_skipped(records) -> None:
    body = request([{"student": "No", "balance": 1, "income": 2}])
    batch = records.CaptureBatch(FEATURES, frozenset(), encoding=records.FeatureEncoding.from_document(ENCODING))
    bad_output = json.loads(response([0.2]))
    bad_output["outputs"][0]["datatype"] = "FP16"
    batch.add_lines([line(body, json.dumps(bad_output)), line(body, response([0.2, 0.3]))])
    assert (batch.malformed, batch.rows) == (2, 0)
    assert batch.skipped == {
        "tensor response: output tensor 'output__0' has datatype 'FP16', expected FP32": 1,
        "2 predictions for 1 rows": 1,
    }
    without = records.CaptureBatch(FEATURES, frozenset())
    without.add_lines([line(body, response([0.2]))])
    assert without.malformed == 1 and "no feature encoding" in next(iter(without.skipped))


def test_input_only_capture_of_a_tensor_counts_its_rows(records) -> None:
    batch = records.CaptureBatch(FEATURES, frozenset(), encoding=records.FeatureEncoding.from_document(ENCODING))
    batch.add_lines([line(request([{"student": "Yes", "balance": 3, "income": 4}] * 2), None)])
    assert (batch.rows, batch.predictions, batch.malformed) == (2, [None, None], 0)


def test_an_unusable_encoding_names_the_problem(tensors) -> None:
    with pytest.raises(tensors.EncodingError, match=r"feature_encoding\.json"):
        tensors.FeatureEncoding.from_document({"features": [{"index": 0, "name": "a", "kind": "numeric"}]})


# ---- the drift function against moto ----------------------------------------------------------------------


def approve_triton(aws: Any, baseline_dir: Any, encoding: dict[str, Any] | None = ENCODING) -> str:
    arn = approve(aws, baseline_dir)
    if encoding is not None:
        body = json.dumps(encoding).encode()
        aws.s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"{ARCHIVE_PREFIX}/feature_encoding.json", Body=body)
    # moto's create_model_package takes no customer metadata on this path: set it as the Register step's update would
    aws.sagemaker.update_model_package(
        ModelPackageArn=arn,
        CustomerMetadataProperties={"triton_model_data_uri": f"s3://{ARTIFACT_BUCKET}/{ARCHIVE_PREFIX}/model.tar.gz"},
    )
    return arn


def triton_lines(rows: pd.DataFrame, per_request: int = 10) -> list[str]:
    records = rows[FEATURES].to_dict("records")
    labels = [0.9 if label == "Yes" else 0.1 for label in rows["default"]]
    return [
        line(request(records[i : i + per_request]), response(labels[i : i + per_request]))
        for i in range(0, len(records), per_request)
    ]


@pytest.fixture()
def triton_settings(settings: Any) -> Any:
    return dataclasses.replace(settings, serving_mode="triton")


def test_a_normal_triton_window_is_analyzed_below_k(handler, aws, triton_settings, frame, baseline_dir, capsys) -> None:
    package = approve_triton(aws, baseline_dir)
    put_capture(aws, triton_lines(sample(frame, 1000, 1)), minute=0)
    put_capture(aws, triton_lines(sample(frame, 1000, 2)), minute=5)
    result = handler.run(aws, triton_settings, triggered_by_object=False, now=NOW)
    assert (result["status"], result["package"], result["records"], result["malformed"]) == (
        "analyzed",
        package,
        200,
        0,
    )
    assert (result["rows"], result["drifted_features"]) == (2000, [])
    records = emf(capsys.readouterr().out)
    assert max(by_feature(records, "MeanShiftSigma").values()) < K
    assert set(by_feature(records, "PSI")) == {"student", "balance", "income"}


def test_income_up_40_percent_is_seen_through_triton_tensors(
    handler, aws, triton_settings, frame, baseline_dir, capsys
) -> None:
    approve_triton(aws, baseline_dir)
    shifted = sample(frame, 2000, 3).assign(income=lambda f: f["income"] * (1 + INCOME_SHIFT))
    data, content_type = binary_request([{"student": "No", "balance": 100.0, "income": None}])
    bad = request([{"student": "No", "balance": 1, "income": 2}], datatype="FP64")
    lines = [*triton_lines(shifted), line(data, response([0.1]), "BASE64", content_type), line(bad, response([0.1]))]
    put_capture(aws, lines)
    result = handler.run(aws, triton_settings, triggered_by_object=False, now=NOW)
    assert (result["rows"], result["malformed"], result["drifted_features"]) == (2001, 1, ["income"])
    assert result["skipped"] == {"tensor request: input tensor 'input__0' has datatype 'FP64', expected FP32": 1}
    sigma = by_feature(emf(capsys.readouterr().out), "MeanShiftSigma")
    assert sigma["income"] > K and sigma["balance"] < K


def test_triton_predictions_are_joined_with_ground_truth(handler, aws, triton_settings, frame, baseline_dir) -> None:
    approve_triton(aws, baseline_dir)
    rows = sample(frame, 200, 5)
    lines = [
        line(request([r]), response([0.9 if label == "Yes" else 0.1]), event_id=f"e{i}")
        for i, (r, label) in enumerate(zip(rows[FEATURES].to_dict("records"), rows["default"], strict=True))
    ]
    put_capture(aws, lines)
    handler.run(aws, triton_settings, triggered_by_object=False, now=NOW)
    put_ground_truth(aws, {f"e{i}": label for i, label in enumerate(rows["default"])})
    result = handler.run(aws, triton_settings, triggered_by_object=False, now=NOW)
    assert result["ground_truth"]["matched"] == 200 and result["ground_truth"]["accuracy"] == 1.0


@pytest.mark.parametrize(
    ("encoding", "metadata", "reason"),
    [
        (None, True, "feature_encoding.json: NoSuchKey"),
        ({**ENCODING, "features": ENCODING["features"][:2]}, True, "['income'] are not in the model's encoding"),
        (ENCODING, False, "no 'triton_model_data_uri'"),
    ],
)
def test_a_package_without_a_usable_encoding_is_reported_like_a_missing_baseline(
    handler, aws, triton_settings, frame, baseline_dir, encoding, metadata: bool, reason: str
) -> None:
    if metadata:
        approve_triton(aws, baseline_dir, encoding)
    else:
        approve(aws, baseline_dir)
        aws.s3.put_object(Bucket=ARTIFACT_BUCKET, Key=f"{ARCHIVE_PREFIX}/feature_encoding.json", Body=b"{}")
    key = put_capture(aws, triton_lines(sample(frame, 100, 6)))
    result = handler.run(aws, triton_settings, triggered_by_object=False, now=NOW)
    assert result["status"] == "baseline_missing" and reason in result["reason"]
    markers = aws.s3.list_objects_v2(Bucket="mlops-capture-test", Prefix="drift-monitor/").get("KeyCount")
    assert markers == 0 and key  # nothing claimed: the files wait for a usable encoding


def test_the_entry_point_reads_the_serving_mode(handler) -> None:
    env = {
        "ENDPOINT_NAME": "e",
        "VARIANT_NAME": "v",
        "CAPTURE_BUCKET": "b",
        "CAPTURE_PREFIX": "capture",
        "MARKER_PREFIX": "m",
        "APPROVED_PACKAGE_PARAMETER": "/p",
        "POWERTOOLS_METRICS_NAMESPACE": "n",
        "DRIFT_SIGMA": "3",
        "PSI_THRESHOLD": "0.2",
    }
    assert handler.Settings.from_env(env).serving_mode == ""
    assert handler.Settings.from_env({**env, "SERVING_MODE": "triton"}).serving_mode == "triton"
