"""The twin starts registered packages as their SageMaker containers would: endpoint and batch transform.

The package's container environment is the synthesized pipeline definition's RegisterModel step's (as the twin's
registry records it); the endpoint's isolation is the synthesized serving model's; batch transform creates its
model with EnableNetworkIsolation (lambdas/batch_transform). With the definition before the serving code moved
into model.tar.gz (SAGEMAKER_SUBMIT_DIRECTORY=s3://<assets>/...), both fail to start here, as they do in AWS.
"""

from __future__ import annotations

import json
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path
from typing import Any

import boto3
import pytest

from mlops.aws_rules.interception import enforcing
from mlops.local.registry import LocalRegistry
from mlops.local.serving.framework_container import start_container
from mlops.local.serving.handler import ModelHandler
from mlops.local.serving.sample_model import load_default_data, write_model_dir
from mlops.twin.emulators.model_containers import ModelRequests, download, package_container, register_environment
from mlops.twin.emulators.transform import LocalTransform
from platform_config.platform import load_config
from tests.conftest import Synthesized

CONFIG = load_config()
BUCKET = "twin-artifacts"
BATCH_KEY = "batch/input/b1/applicants.csv"


@dataclass
class _Cloud:
    account: str = CONFIG.account
    region: str = CONFIG.region

    def client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region)


def _package_environment(synthesized: Synthesized) -> dict[str, str]:
    build = synthesized.template("-build")
    (pipeline,) = [r for r in build["Resources"].values() if r["Type"] == "AWS::SageMaker::Pipeline"]
    body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    return register_environment(json.loads(body["Fn::Sub"][0] if isinstance(body, dict) else body))


def _serving_isolation(synthesized: Synthesized) -> bool:
    serving = synthesized.template("-serving")
    (model,) = [r for r in serving["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    return bool(model["Properties"].get("EnableNetworkIsolation", False))


@pytest.fixture(scope="module")
def model_v1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_model_dir(tmp_path_factory.mktemp("v1"), "v1", load_default_data(rows=200))


@pytest.fixture()
def registered(synthesized: Synthesized, model_v1: Path, tmp_path: Path) -> Iterator[tuple[LocalRegistry, str]]:
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for item in sorted(model_v1.iterdir()):
            tar.add(item, arcname=item.name)
    with LocalRegistry(CONFIG.region, CONFIG.account, bucket=BUCKET) as registry:
        package = registry.register(
            CONFIG.resource_name("models"), archive, "image", {}, "Approved", {},
            environment=_package_environment(synthesized),
        )  # fmt: skip
        yield registry, package.model_package_arn


def test_the_endpoint_starts_the_registered_package_as_its_isolated_container_would(
    synthesized: Synthesized, registered: tuple[LocalRegistry, str], tmp_path: Path
) -> None:
    _, package = registered
    assert _serving_isolation(synthesized) is True
    s3 = boto3.client("s3", region_name=CONFIG.region)
    definition = package_container(boto3.client("sagemaker", region_name=CONFIG.region), package, True)
    download(s3, definition.model_data_url, tmp_path / "served.tar.gz")
    started = start_container(definition, tmp_path / "served.tar.gz", tmp_path / "endpoint")
    response = ModelHandler(started.model_dir, started.program).invoke(b"No,1500,40000", "text/csv", "text/csv")
    assert response.body.decode().split(",")[0] in {"No", "Yes"}


def test_batch_transform_scores_every_record_with_the_package_container(
    registered: tuple[LocalRegistry, str], tmp_path: Path
) -> None:
    _, package = registered
    handler = import_module("lambdas.batch_transform.handler")
    s3, ssm = boto3.client("s3", region_name=CONFIG.region), boto3.client("ssm", region_name=CONFIG.region)
    s3.create_bucket(Bucket="capture")
    rows = ["No,1500,40000", "Yes,2200,12000", ",900,", "No,300,51000"]
    s3.put_object(Bucket="capture", Key=BATCH_KEY, Body=("\n".join(rows) + "\n").encode())
    ssm.put_parameter(Name="/p", Value=package, Type="String")
    environ = {"APPROVED_PACKAGE_PARAMETER": "/p", "BATCH_BUCKET": "capture", "NAME_PREFIX": "mlops",
               "MODEL_ROLE_ARN": f"arn:aws:iam::{CONFIG.account}:role/model", "INSTANCE_COUNT": "1",
               "KMS_KEY_ARN": "arn:aws:kms:us-east-1:111111111111:key/k", "INSTANCE_TYPE": "ml.m5.large"}  # fmt: skip
    models = ModelRequests()
    with enforcing(models.record):
        job = handler.start(
            {"input_prefix": "batch/input/b1/"}, boto3.client("sagemaker", region_name=CONFIG.region), ssm, environ
        )
    result = LocalTransform(_Cloud(), models, tmp_path / "transform").run(job["transform_job"])
    assert result.status == "Completed", result.failure_reason
    assert result.records == len(rows)
    (output,) = result.outputs
    assert output == "s3://capture/batch/output/b1/applicants.csv.out"
    lines = s3.get_object(Bucket="capture", Key=output.split("/", 3)[3])["Body"].read().decode().splitlines()
    assert len(lines) == len(rows) and all(line.split(",")[0] in {"No", "Yes"} for line in lines)
    described = boto3.client("sagemaker", region_name=CONFIG.region).describe_transform_job(
        TransformJobName=job["transform_job"]
    )
    assert described["TransformJobStatus"] == "Completed"


def test_a_transform_whose_isolated_container_cannot_start_fails_and_names_the_variable(
    model_v1: Path, tmp_path: Path
) -> None:
    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(model_v1 / "model.joblib", arcname="model.joblib")
        tar.add(model_v1 / "model_meta.json", arcname="model_meta.json")
    s3_source = {"SAGEMAKER_PROGRAM": "inference.py", "SAGEMAKER_SUBMIT_DIRECTORY": "s3://assets/inference.tar.gz"}
    with LocalRegistry(CONFIG.region, CONFIG.account, bucket=BUCKET) as registry:
        package = registry.register("old-models", archive, "image", {}, "Approved", {}, environment=s3_source)
        sagemaker, s3 = (boto3.client(s, region_name=CONFIG.region) for s in ("sagemaker", "s3"))
        s3.create_bucket(Bucket="capture")
        s3.put_object(Bucket="capture", Key=BATCH_KEY, Body=b"No,1500,40000\n")
        models = ModelRequests()
        with enforcing(models.record):
            sagemaker.create_model(
                ModelName="old", PrimaryContainer={"ModelPackageName": package.model_package_arn},
                ExecutionRoleArn=f"arn:aws:iam::{CONFIG.account}:role/model", EnableNetworkIsolation=True,
            )  # fmt: skip
            sagemaker.create_transform_job(
                TransformJobName="old", ModelName="old",
                TransformInput={"DataSource": {"S3DataSource": {"S3DataType": "S3Prefix",
                                                                "S3Uri": "s3://capture/batch/input/b1/"}}},
                TransformOutput={"S3OutputPath": "s3://capture/batch/output/b1/"},
                TransformResources={"InstanceType": "ml.m5.large", "InstanceCount": 1},
            )  # fmt: skip
        result = LocalTransform(_Cloud(), models, tmp_path / "transform").run("old")
        described = sagemaker.describe_transform_job(TransformJobName="old")
        written = s3.list_objects_v2(Bucket="capture", Prefix="batch/output/").get("KeyCount", 0)
    assert result.status == "Failed" and described["TransformJobStatus"] == "Failed"
    assert "model old: SAGEMAKER_SUBMIT_DIRECTORY=s3://assets/inference.tar.gz" in result.failure_reason
    assert "network isolation" in described["FailureReason"] and written == 0
