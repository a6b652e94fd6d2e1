"""The batch transform function against moto: one job per (batch, package), with the approved package."""

from __future__ import annotations

import os
from collections.abc import Iterator
from importlib import import_module
from typing import Any

import boto3
import pytest
from moto import mock_aws

PARAMETER = "/mlops/serving/approved-model-package-arn"
ENV = {
    "APPROVED_PACKAGE_PARAMETER": PARAMETER,
    "BATCH_BUCKET": "capture",
    "NAME_PREFIX": "mlops-serving",
    "MODEL_ROLE_ARN": "arn:aws:iam::123456789012:role/model",
    "KMS_KEY_ARN": "arn:aws:kms:us-east-1:123456789012:key/k",
    "INSTANCE_TYPE": "ml.m5.large",
    "INSTANCE_COUNT": "1",
}


@pytest.fixture()
def aws() -> Iterator[tuple[Any, Any]]:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        sagemaker, ssm = (
            boto3.client("sagemaker", region_name="us-east-1"),
            boto3.client("ssm", region_name="us-east-1"),
        )
        ssm.put_parameter(Name=PARAMETER, Value="none", Type="String")
        yield sagemaker, ssm


def _event(key: str) -> dict[str, Any]:
    return {"detail-type": "Object Created", "detail": {"bucket": {"name": "capture"}, "object": {"key": key}}}


def test_no_approved_model_means_nothing_to_score(aws) -> None:
    handler = import_module("lambdas.batch_transform.handler")
    with pytest.raises(handler.NothingToScore, match="no approved model"):
        handler.start(_event("batch/input/b1/part-1.csv"), *aws, ENV)


def test_a_file_under_a_batch_starts_one_job_with_the_approved_package(aws) -> None:
    handler = import_module("lambdas.batch_transform.handler")
    sagemaker, ssm = aws
    package = "arn:aws:sagemaker:us-east-1:123456789012:model-package/mlops-models/2"
    ssm.put_parameter(Name=PARAMETER, Value=package, Type="String", Overwrite=True)
    first = handler.start(_event("batch/input/b1/part-1.csv"), sagemaker, ssm, ENV)
    again = handler.start(_event("batch/input/b1/part-2.csv"), sagemaker, ssm, ENV)  # same batch: same job
    assert first == again and first["input_prefix"] == "batch/input/b1/"
    job = sagemaker.describe_transform_job(TransformJobName=first["transform_job"])
    assert job["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == "s3://capture/batch/input/b1/"
    assert job["TransformOutput"]["S3OutputPath"] == "s3://capture/batch/output/b1/"
    model = sagemaker.describe_model(ModelName=first["transform_job"])
    assert model["PrimaryContainer"]["ModelPackageName"] == package


def test_keys_outside_the_batch_root_are_refused(aws) -> None:
    handler = import_module("lambdas.batch_transform.handler")
    with pytest.raises(handler.NothingToScore, match="not under batch/input/"):
        handler.input_prefix(_event("capture/AllTraffic/2026/11/27/x.jsonl"))
