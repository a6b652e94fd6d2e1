"""moto's UpdateModelPackage, made to keep a package's metadata as AWS does (the deploy function reads it)."""

from __future__ import annotations

import boto3
from moto import mock_aws

from mlops.moto_fixes import aws_model_package_updates


def _approve_and_describe() -> dict[str, str] | None:
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    sagemaker.create_model_package_group(ModelPackageGroupName="g")
    arn = sagemaker.create_model_package(
        ModelPackageGroupName="g",
        InferenceSpecification={"Containers": [{"Image": "i"}], "SupportedContentTypes": ["text/csv"],
                                "SupportedResponseMIMETypes": ["text/csv"]},
        CustomerMetadataProperties={"lineage_complete": "true"},
    )["ModelPackageArn"]  # fmt: skip
    sagemaker.update_model_package(ModelPackageArn=arn, ModelApprovalStatus="Approved")
    sagemaker.update_model_package(ModelPackageArn=arn, CustomerMetadataProperties={"reviewer": "me"})
    return sagemaker.describe_model_package(ModelPackageName=arn).get("CustomerMetadataProperties")


def test_approval_keeps_the_metadata_and_updates_merge() -> None:
    with mock_aws(), aws_model_package_updates():
        assert _approve_and_describe() == {"lineage_complete": "true", "reviewer": "me"}


def test_the_patch_is_scoped() -> None:
    # Without it, moto drops the metadata: the reason for the patch (if moto fixes this, drop mlops/moto_fixes.py).
    with mock_aws():
        assert _approve_and_describe() == {"reviewer": "me"}
