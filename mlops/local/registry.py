"""The offline Model Registry: moto's SageMaker model package groups, in process.

Registration goes through the same boto3 calls the AWS registration would make (create_model_package_group,
create_model_package with the inference image and metrics), so the twin and the cloud share one code path.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto import mock_aws

from mlops.aws_rules.offline import enforcing_offline_rules

ARTIFACT_BUCKET = "local-artifacts"


@dataclass(frozen=True)
class RegisteredModel:
    model_package_arn: str
    approval_status: str
    model_data_url: str


class LocalRegistry:
    """A moto-backed registry; use as a context manager so the mock is started and stopped once.

    With `own_mock=False` it joins a moto session that is already running (the offline twin's) and writes model
    artifacts to the given bucket of that session.
    """

    def __init__(
        self, region: str, account: str, bucket: str = ARTIFACT_BUCKET, own_mock: bool = True, prefix: str = "models"
    ) -> None:
        self.region = region
        self.account = account
        self.bucket = bucket
        self.prefix = prefix  # the artifacts' key prefix (the twin uses the pipeline's output prefix, as in AWS)
        self._mock = mock_aws() if own_mock else None
        self._rules = contextlib.ExitStack()
        self._saved_account: str | None = None
        self._sagemaker: Any = None
        self._s3: Any = None
        # The client of the Register step's own call (CreateModelPackage); the others are the registry's bookkeeping.
        self.register_client: Any = None

    def __enter__(self) -> LocalRegistry:
        if self._mock is not None:
            # moto names its fake account by this variable; use the platform's (dummy) account so ARNs match.
            self._saved_account = os.environ.get("MOTO_ACCOUNT_ID")
            os.environ["MOTO_ACCOUNT_ID"] = self.account
            self._mock.start()
        # The registry's requests meet AWS's server-side rules (moto accepts what AWS refuses), see mlops/aws_rules.
        self._rules.enter_context(enforcing_offline_rules())
        self._sagemaker = boto3.client("sagemaker", region_name=self.region)
        self._s3 = boto3.client("s3", region_name=self.region)
        if self.bucket not in {b["Name"] for b in self._s3.list_buckets()["Buckets"]}:
            where = (
                {} if self.region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": self.region}}
            )
            self._s3.create_bucket(Bucket=self.bucket, **where)
        return self

    def __exit__(self, *exc: object) -> None:
        self._rules.close()
        if self._mock is None:
            return
        self._mock.stop()
        if self._saved_account is None:
            os.environ.pop("MOTO_ACCOUNT_ID", None)
        else:
            os.environ["MOTO_ACCOUNT_ID"] = self._saved_account

    @property
    def bookkeeping_client(self) -> Any:
        """Lists groups and versions and reads the new package back: what SageMaker does itself in AWS."""
        return self._sagemaker

    @property
    def s3_client(self) -> Any:
        """Writes the artifacts (in AWS the steps' jobs write them)."""
        return self._s3

    def register(
        self,
        group: str,
        model_archive: Path,
        image_uri: str,
        evaluation: Mapping[str, Any],
        approval_status: str,
        metadata: Mapping[str, str],
        baseline_dir: Path | None = None,
        environment: Mapping[str, str] | None = None,
    ) -> RegisteredModel:
        """``environment``: the package container's (the Register step's: SAGEMAKER_PROGRAM and its directory)."""
        existing = self._sagemaker.list_model_package_groups(NameContains=group)["ModelPackageGroupSummaryList"]
        if not any(g["ModelPackageGroupName"] == group for g in existing):
            self._sagemaker.create_model_package_group(ModelPackageGroupName=group)
        version = len(self._sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]) + 1
        model_key = f"{self.prefix}/{group}/v{version}/model.tar.gz"
        self._s3.upload_file(str(model_archive), self.bucket, model_key)
        evaluation_key = f"{self.prefix}/{group}/v{version}/evaluation.json"
        self._s3.put_object(Bucket=self.bucket, Key=evaluation_key, Body=json.dumps(evaluation).encode())
        model_data_url = f"s3://{self.bucket}/{model_key}"
        metrics: dict[str, Any] = {
            "ModelQuality": {
                "Statistics": {"ContentType": "application/json", "S3Uri": f"s3://{self.bucket}/{evaluation_key}"}
            }
        }
        if baseline_dir is not None:
            # The data-quality baseline, as the pipeline's Register step records it (the drift monitor reads it).
            quality = {}
            for name, field in (("statistics.json", "Statistics"), ("constraints.json", "Constraints")):
                key = f"{self.prefix}/{group}/v{version}/baseline/{name}"
                self._s3.upload_file(str(baseline_dir / name), self.bucket, key)
                quality[field] = {"ContentType": "application/json", "S3Uri": f"s3://{self.bucket}/{key}"}
            metrics["ModelDataQuality"] = quality
        response = (self.register_client or self._sagemaker).create_model_package(
            ModelPackageGroupName=group,
            ModelPackageDescription=f"version {version}",
            InferenceSpecification={
                "Containers": [
                    {"Image": image_uri, "ModelDataUrl": model_data_url, "Environment": dict(environment or {})}
                ],
                "SupportedContentTypes": ["text/csv", "application/json"],
                "SupportedResponseMIMETypes": ["application/json", "text/csv"],
            },
            ModelMetrics=metrics,
            ModelApprovalStatus=approval_status,
            # An empty map is outside the API's constraints (1-50 entries): no metadata means the key is left out.
            **({"CustomerMetadataProperties": dict(metadata)} if metadata else {}),
        )
        arn = response["ModelPackageArn"]
        status = self._sagemaker.describe_model_package(ModelPackageName=arn)["ModelApprovalStatus"]
        return RegisteredModel(arn, status, model_data_url)

    def packages(self, group: str) -> list[dict[str, Any]]:
        return self._sagemaker.list_model_packages(ModelPackageGroupName=group)["ModelPackageSummaryList"]
