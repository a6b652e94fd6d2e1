"""The post-deploy smoke test (scripts/smoke_test.py) against moto's SageMaker, and its decisions with fakes."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
import requests
from moto import mock_aws

REPO = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/x"


def _load_script() -> ModuleType:
    # CodeBuild runs it as `python -m scripts.smoke_test` from the checkout root (scripts/ is a namespace package).
    spec = importlib.util.spec_from_file_location("smoke_test", REPO / "scripts" / "smoke_test.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["smoke_test"] = module
    spec.loader.exec_module(module)
    return module


smoke = _load_script()


@pytest.fixture()
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with mock_aws():
        sagemaker = boto3.client("sagemaker", region_name=REGION)
        sagemaker.create_pipeline(
            PipelineName="mlops-build", PipelineDefinition=json.dumps({"Steps": []}), RoleArn=ROLE
        )
        sagemaker.create_model(ModelName="m", ExecutionRoleArn=ROLE, PrimaryContainer={"Image": "image"})
        sagemaker.create_endpoint_config(
            EndpointConfigName="c",
            ProductionVariants=[
                {"VariantName": "v", "ModelName": "m", "InitialInstanceCount": 1, "InstanceType": "ml.m5.large"}
            ],
        )
        sagemaker.create_endpoint(EndpointName="mlops-endpoint", EndpointConfigName="c")
        yield sagemaker


def _endpoint_answers(*bodies: str) -> None:
    """Queue what moto's invoke_endpoint returns (its documented results API)."""
    results = [{"Body": b, "ContentType": "text/csv", "InvokedProductionVariant": "v"} for b in bodies]
    requests.post(
        "http://motoapi.amazonaws.com/moto-api/static/sagemaker/endpoint-results", json={"results": results}
    ).raise_for_status()


def _env(**extra: str) -> dict[str, str]:
    return {"PIPELINE_NAME": "mlops-build", "ENDPOINT_NAME": "mlops-endpoint", "STAGE_REGION": REGION, **extra}


def test_healthy_stage_passes_all_checks(aws, capsys: pytest.CaptureFixture[str]) -> None:
    _endpoint_answers("No,0.91\nNo,0.8\nYes,0.66\n")  # one line per row of scripts/smoke_payload.csv
    assert smoke.main(_env(SMOKE_TEST_ROLE_ARN="arn:aws:iam::123456789012:role/mlops-staging-smoke")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "ok     pipeline mlops-build: Active",
        "ok     endpoint mlops-endpoint: InService",
        "ok     endpoint mlops-endpoint: 3 rows -> 3 predictions",
    ]


@pytest.mark.parametrize(
    "body",
    ["No,0.9\n", "No,0.9\nNo,0.8\nYes,1.7\n", "body", "No,0.9\nNo,high\nYes,0.1\n"],
    ids=["too-few", "probability-above-1", "not-csv", "not-a-number"],
)
def test_a_wrong_answer_fails(aws, capsys: pytest.CaptureFixture[str], body: str) -> None:
    _endpoint_answers(body)
    assert smoke.main(_env()) == 1
    assert capsys.readouterr().out.splitlines()[-1].startswith("FAILED endpoint mlops-endpoint:")


def test_a_missing_endpoint_fails_without_a_traceback(aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert smoke.main(_env(ENDPOINT_NAME="no-such-endpoint")) == 1
    assert "Could not find endpoint" in capsys.readouterr().out


def test_no_approved_model_yet_checks_the_pipeline_only(aws, capsys: pytest.CaptureFixture[str]) -> None:
    assert smoke.main(_env(DEPLOYED_MODEL_PACKAGE_ARN="none")) == 0
    assert capsys.readouterr().out.splitlines() == [
        "skip   endpoint: no approved model deployed in this stage yet",
        "ok     pipeline mlops-build: Active",
    ]
    assert smoke.main(_env(DEPLOYED_MODEL_PACKAGE_ARN="none", REQUIRE_ENDPOINT="true", ENDPOINT_NAME="x")) == 1


class _Endpoint:
    """describe_endpoint answering a scripted sequence of statuses."""

    def __init__(self, *statuses: str) -> None:
        self.statuses = list(statuses)

    def describe_endpoint(self, EndpointName: str) -> dict[str, str]:
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        return {"EndpointStatus": status, "FailureReason": "capacity" if status == "Failed" else ""}


def test_waits_while_a_deployment_rolls_out() -> None:
    sleeps: list[float] = []
    client = _Endpoint("Updating", "Updating", "InService")
    assert smoke.wait_in_service(client, "e", 900, sleeps.append) == "endpoint e: InService"
    assert sleeps == [smoke.POLL_SECONDS] * 2


def test_fails_at_once_on_a_failed_endpoint_and_after_the_wait_on_a_stuck_one() -> None:
    with pytest.raises(smoke.CheckFailed, match="status Failed, capacity"):
        smoke.wait_in_service(_Endpoint("Creating", "Failed"), "e", 900, lambda _: None)
    with pytest.raises(smoke.CheckFailed, match="still Creating after 60 s"):
        smoke.wait_in_service(_Endpoint("Creating"), "e", 60, lambda _: None)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "set PIPELINE_NAME and/or ENDPOINT_NAME"),
        ({"PIPELINE_NAME": "p", "SAMPLE_PAYLOAD_FILE": "/no/such.csv"}, "SAMPLE_PAYLOAD_FILE /no/such.csv"),
        ({"PIPELINE_NAME": "p", "WAIT_SECONDS": "soon"}, "WAIT_SECONDS"),
    ],
)
def test_bad_input_exits_2_with_one_line(env: dict[str, str], message: str, capsys) -> None:  # type: ignore[no-untyped-def]
    assert smoke.main(env) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_the_sample_payload_has_one_value_per_default_feature() -> None:
    from platform_config.platform import load_config

    rows = (REPO / "scripts" / "smoke_payload.csv").read_text().split()
    assert rows and all(len(row.split(",")) == len(load_config().features) for row in rows)


def test_run_reports_to_the_given_stream() -> None:
    settings = smoke.Settings("p", None, "a\n", REGION, None, 0)

    class Pipeline:
        def describe_pipeline(self, PipelineName: str) -> dict[str, str]:
            return {"PipelineStatus": "Deleting"}

    out = io.StringIO()
    assert smoke.run(settings, Pipeline(), None, out) == 1
    assert "FAILED pipeline p: status Deleting, expected Active" in out.getvalue()
