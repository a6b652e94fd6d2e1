"""serving_mode "triton": the deploy function copies an approved package's Triton archive under the MME prefix.

The copy plan is pure (deploy_decision.triton_copy_plan); the copy, the live-model parameter and the desired
state are exercised against moto (S3, SSM, the SageMaker registry, CloudFormation).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

import boto3
import pytest

from tests.lambdas.packages import READY
from tests.lambdas.test_deploy_model_handler import GROUP, PARAMETER, STACK, approval_event, aws, desired, handler

__all__ = ["aws", "handler"]  # fixtures shared with the deploy function's other tests

LIVE = "/mlops/serving/triton-target-model"
PREFIX = "s3://artifacts/triton/"
ARCHIVE = "s3://artifacts/pipelines/exec-1/triton/model.tar.gz"
ARN = "arn:aws:sagemaker:us-east-1:111111111111:model-package/mlops-models/3"

decision = import_module("lambdas.deploy_model.deploy_decision")


def package(uri: Any = ARCHIVE, **extra: Any) -> dict[str, Any]:
    metadata = dict(READY) if uri is None else {**READY, decision.TRITON_METADATA_KEY: uri}
    return {
        "ModelPackageArn": ARN,
        "ModelPackageGroupName": GROUP,
        "ModelPackageVersion": 3,
        "CustomerMetadataProperties": metadata,
        **extra,
    }


def test_the_archive_goes_under_the_prefix_as_group_and_version() -> None:
    plan = decision.triton_copy_plan(package(), PREFIX)
    assert plan == decision.CopyPlan(
        source_bucket="artifacts",
        source_key="pipelines/exec-1/triton/model.tar.gz",
        target_bucket="artifacts",
        target_key="triton/mlops-models-v3.tar.gz",
        target_model="mlops-models-v3.tar.gz",
    )
    # The version comes from the ARN when the description lacks it; a prefix without a trailing slash is the same.
    bare = {k: v for k, v in package().items() if k != "ModelPackageVersion"}
    assert decision.triton_copy_plan(bare, "s3://artifacts/triton").target_key == "triton/mlops-models-v3.tar.gz"


@pytest.mark.parametrize("uri", [None, "", "/local/model.tar.gz", "s3://bucket-only", "s3://b/model.zip", 7])
def test_a_package_without_a_triton_archive_is_not_servable(uri: Any) -> None:
    with pytest.raises(decision.NotServable, match="triton_model_data_uri"):
        decision.triton_copy_plan(package(uri), PREFIX)


def _register_with_archive(aws: Any, s3: Any, uri: str | None) -> str:
    spec = {"Containers": [{"Image": "image", "ModelDataUrl": "s3://artifacts/models/m/model.tar.gz"}],
            "SupportedContentTypes": ["text/csv"], "SupportedResponseMIMETypes": ["text/csv"]}  # fmt: skip
    metadata = {**READY, decision.TRITON_METADATA_KEY: uri} if uri else dict(READY)
    return str(
        aws.sagemaker.create_model_package(
            ModelPackageGroupName=GROUP,
            InferenceSpecification=spec,
            ModelApprovalStatus="Approved",
            CustomerMetadataProperties=metadata,
        )["ModelPackageArn"]
    )


@pytest.fixture()
def s3(aws: Any) -> Any:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="artifacts")
    client.put_object(Bucket="artifacts", Key="pipelines/exec-1/triton/model.tar.gz", Body=b"triton archive")
    aws.s3 = client
    aws.ssm.put_parameter(Name=LIVE, Value="none", Type="String")
    return client


def test_an_approval_copies_the_archive_and_records_the_live_target_model(handler: Any, aws: Any, s3: Any) -> None:
    arn = _register_with_archive(aws, s3, ARCHIVE)
    result = handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK, "", PREFIX, LIVE)
    target = f"{GROUP}-v1.tar.gz"
    assert result.action == "deploy" and f"TargetModel {target}" in result.reason
    assert s3.get_object(Bucket="artifacts", Key=f"triton/{target}")["Body"].read() == b"triton archive"
    assert aws.ssm.get_parameter(Name=LIVE)["Parameter"]["Value"] == target
    assert desired(aws) == arn
    assert aws.updates == []  # the endpoint loads the archive on demand: no stack update
    # The same approval again changes nothing.
    again = handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK, "", PREFIX, LIVE)
    assert again.action == "skip"


def test_a_package_registered_without_triton_is_skipped_and_nothing_changes(handler: Any, aws: Any, s3: Any) -> None:
    arn = _register_with_archive(aws, s3, None)
    result = handler.on_approval(approval_event(arn), aws, GROUP, PARAMETER, STACK, "", PREFIX, LIVE)
    assert result.action == "skip" and "triton_model_data_uri" in result.reason
    assert desired(aws) == "none" and aws.ssm.get_parameter(Name=LIVE)["Parameter"]["Value"] == "none"
    assert s3.list_objects_v2(Bucket="artifacts", Prefix="triton/")["KeyCount"] == 0


def test_the_entry_point_reads_the_triton_settings_from_its_environment(
    handler: Any, aws: Any, s3: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    arn = _register_with_archive(aws, s3, ARCHIVE)
    for name, value in {
        "APPROVED_PACKAGE_PARAMETER": PARAMETER,
        "SERVING_STACK_NAME": STACK,
        "MODEL_PACKAGE_GROUP": GROUP,
        "TRITON_MODEL_URL": PREFIX,
        "TRITON_LIVE_MODEL_PARAMETER": LIVE,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(handler, "Clients", lambda: aws)  # what lambda_handler uses

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "deploy", 256, "test"
        invoked_function_arn = "arn:aws:lambda:us-east-1:111111111111:function:deploy"

    result = handler.lambda_handler(approval_event(arn), Context())
    assert result["action"] == "deploy"
    assert aws.ssm.get_parameter(Name=LIVE)["Parameter"]["Value"] == f"{GROUP}-v1.tar.gz"
