"""The smoke test in serving_mode "triton": the live TargetModel, a KServe v2 body of encoded sample rows.

SageMaker (pipeline, endpoint), SSM (the live-model parameter) and S3 (the live archive) are moto's; the
sagemaker-runtime client is stubbed with botocore's Stubber, which checks the exact request (TargetModel, content
type, body) and returns the scripted answer.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import Stubber

from pipeline_code.triton_repository import encode_record, feature_encoding, write_archive
from tests.infra import test_delivery_smoke_test as base
from tests.infra.test_delivery_smoke_test import REGION, smoke

aws = base.aws  # moto: the pipeline mlops-build and the InService endpoint mlops-endpoint

PARAMETER = "/mlops/serving/triton-target-model"
BUCKET = "mlops-artifacts"
LIVE = "mlops-models-v3.tar.gz"
META = {
    "features": ["student", "balance", "income"],
    "categorical_features": ["student"],
    "categories": {"student": ["No", "Yes"]},
    "classes": ["No", "Yes"],
}
ENCODING = feature_encoding(META)
PAYLOAD = (base.REPO / "scripts" / "smoke_payload.csv").read_text()


def _env(**extra: str) -> dict[str, str]:
    return {
        "PIPELINE_NAME": "mlops-build",
        "ENDPOINT_NAME": "mlops-endpoint",
        "STAGE_REGION": REGION,
        "DEPLOYED_MODEL_PACKAGE_ARN": "none",  # the serving stack's output: never updated by a Triton deploy
        "TRITON_LIVE_MODEL_PARAMETER": PARAMETER,
        "TRITON_MODEL_URL": f"s3://{BUCKET}/triton",
        **extra,
    }


@pytest.fixture()
def stage(aws: Any, tmp_path: Path) -> dict[str, Any]:
    """The live model as the deploy function leaves it: the parameter names it, its archive under triton/."""
    ssm, s3 = boto3.client("ssm", region_name=REGION), boto3.client("s3", region_name=REGION)
    ssm.put_parameter(Name=PARAMETER, Value=LIVE, Type="String")
    model = tmp_path / "repository" / "mlops-models-v3"
    (model / "1").mkdir(parents=True)
    (model / "1" / "xgboost.json").write_text("{}")
    (model / "config.pbtxt").write_text('name: "mlops-models-v3"\n')
    (model / "feature_encoding.json").write_text(json.dumps(ENCODING))
    archive = write_archive(model, tmp_path / "model.tar.gz")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key=f"triton/{LIVE}", Body=archive.read_bytes())
    return {"sagemaker": aws, "ssm": ssm, "s3": s3}


def _expected_body() -> str:
    rows = [line.split(",") for line in PAYLOAD.split()]
    vectors = [encode_record(ENCODING, dict(zip(META["features"], row, strict=True))) for row in rows]
    tensor = {"name": "input__0", "datatype": "FP32", "shape": [len(rows), 3], "data": vectors}
    return json.dumps({"inputs": [tensor]})


def _answer(data: Any, shape: Any = (3, 1), name: str = "output__0") -> str:
    output = {"name": name, "datatype": "FP32", "shape": list(shape), "data": data}
    return json.dumps({"model_name": "mlops-models-v3", "model_version": "1", "outputs": [output]})


def _runtime(answer: str | None) -> tuple[Any, Stubber]:
    runtime = boto3.client("sagemaker-runtime", region_name=REGION)
    stubber = Stubber(runtime)
    if answer is not None:
        body = answer.encode()
        stubber.add_response(
            "invoke_endpoint",
            {"Body": StreamingBody(io.BytesIO(body), len(body)), "ContentType": "application/json"},
            {
                "EndpointName": "mlops-endpoint",
                "TargetModel": LIVE,
                "ContentType": "application/json",
                "Accept": "application/json",
                "Body": _expected_body(),
            },
        )
    stubber.activate()
    return runtime, stubber


def _run(stage: dict[str, Any], runtime: Any, env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    out = io.StringIO()
    settings = smoke.Settings.from_env(env or _env())
    code = smoke.run(settings, stage["sagemaker"], runtime, out, ssm=stage["ssm"], s3=stage["s3"])
    return code, out.getvalue().splitlines()


def test_the_live_model_answers_encoded_sample_rows(stage: dict[str, Any]) -> None:
    runtime, stubber = _runtime(_answer([0.02, 0.61, 0.97]))
    code, out = _run(stage, runtime)
    assert (code, out) == (
        0,
        [
            "ok     pipeline mlops-build: Active",
            "ok     endpoint mlops-endpoint: InService",
            f"ok     endpoint mlops-endpoint: 3 rows -> 3 probabilities ('output__0') from TargetModel {LIVE}",
        ],
    )
    stubber.assert_no_pending_responses()


def test_the_body_is_the_training_encoding_of_the_sample(stage: dict[str, Any]) -> None:
    body, rows = smoke.triton_request(ENCODING, "No,729.5,44361.6\nYes,817.2,12106.1\n")
    tensor = json.loads(body)["inputs"][0]
    assert rows == 2 and (tensor["name"], tensor["datatype"], tensor["shape"]) == ("input__0", "FP32", [2, 3])
    assert tensor["data"] == [[0.0, 729.5, 44361.6], [1.0, 817.2, 12106.1]]


def test_no_live_model_yet_still_checks_the_endpoint_and_skips_the_call(stage: dict[str, Any]) -> None:
    stage["ssm"].put_parameter(Name=PARAMETER, Value="none", Type="String", Overwrite=True)
    runtime, stubber = _runtime(None)  # any call would fail: nothing is queued
    code, out = _run(stage, runtime)
    assert (code, out) == (
        0,
        [
            "ok     pipeline mlops-build: Active",
            "ok     endpoint mlops-endpoint: InService",
            f"skip   endpoint mlops-endpoint: no live Triton model yet ({PARAMETER} is 'none')",
        ],
    )
    stubber.assert_no_pending_responses()


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_answer([0.1, 0.2]), "2 values in 'output__0' for 3 rows"),  # shape says 3 rows
        (_answer([0.1, 0.2], shape=(2, 1)), "has shape [2, 1], expected [3, 1]"),
        (_answer([0.1, 1.2, 0.3]), "value 1.2 is not a probability"),
        (_answer([0.1, 0.2, 0.3], name="output__1"), "outputs[0] is not 'output__0'"),
        (json.dumps({"error": "model not found"}), "no outputs[0] in the answer"),
    ],
    ids=["count", "rows", "above-1", "name", "error"],
)
def test_a_wrong_answer_fails(stage: dict[str, Any], answer: str, message: str) -> None:
    runtime, _ = _runtime(answer)
    code, out = _run(stage, runtime)
    assert code == 1 and out[-1].startswith("FAILED endpoint mlops-endpoint:") and message in out[-1]


def test_a_missing_archive_or_encoding_fails(stage: dict[str, Any], tmp_path: Path) -> None:
    stage["ssm"].put_parameter(Name=PARAMETER, Value="mlops-models-v9.tar.gz", Type="String", Overwrite=True)
    code, out = _run(stage, _runtime(None)[0])
    assert code == 1 and "NoSuchKey" in out[-1]
    stage["s3"].put_object(Bucket=BUCKET, Key="triton/mlops-models-v9.tar.gz", Body=b"not a tarball")
    code, out = _run(stage, _runtime(None)[0])
    assert code == 1 and "not a readable Triton archive" in out[-1]


def test_a_sample_the_live_model_cannot_encode_fails(stage: dict[str, Any], tmp_path: Path) -> None:
    payload = tmp_path / "payload.csv"
    payload.write_text("Maybe,1.0,2.0\n")  # an unseen category: NaN, which JSON cannot carry
    code, out = _run(stage, _runtime(None)[0], _env(SAMPLE_PAYLOAD_FILE=str(payload)))
    assert code == 1 and "encodes to a missing value (NaN)" in out[-1]
    payload.write_text("No,1.0\n")
    code, out = _run(stage, _runtime(None)[0], _env(SAMPLE_PAYLOAD_FILE=str(payload)))
    assert code == 1 and "2 values, the live model has 3 features" in out[-1]


def test_the_entry_point_wires_ssm_and_s3(stage: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    """main() end to end on moto (its invoke_endpoint answers from the results queue)."""
    base._endpoint_answers(_answer([0.2, 0.4, 0.6]))
    assert smoke.main(_env()) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith(f"from TargetModel {LIVE}")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"TRITON_MODEL_URL": ""}, "set both TRITON_LIVE_MODEL_PARAMETER and TRITON_MODEL_URL"),
        ({"TRITON_MODEL_URL": "https://x"}, "TRITON_MODEL_URL: not an s3:// URL"),
    ],
)
def test_triton_settings_are_validated(extra: dict[str, str], message: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert smoke.main(_env(**extra)) == 2
    assert message in capsys.readouterr().err


def test_a_triton_endpoint_is_checked_before_the_first_approval() -> None:
    settings = smoke.Settings.from_env(_env())
    assert settings.endpoint_name == "mlops-endpoint" and settings.triton
    plain = smoke.Settings.from_env({k: v for k, v in _env().items() if not k.startswith("TRITON_")})
    assert plain.endpoint_name is None and not plain.triton
