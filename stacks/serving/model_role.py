"""The role the served model (and batch transform's model) runs as: reads model artifacts, pulls the image."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from pipeline_definition.images import sklearn_image_uri, xgboost_image_uri
from platform_config.platform import PlatformConfig
from stacks.constructs.sagemaker_grants import grant_image_pull, grant_sagemaker_logs


def model_package_arns(scope: Construct, group: str) -> str:
    """Every model package version of the project's group."""
    return cdk.Stack.of(scope).format_arn(service="sagemaker", resource="model-package", resource_name=f"{group}/*")


def model_role(
    scope: Construct, config: PlatformConfig, key: kms.IKey, artifact_bucket: s3.IBucket, group: str
) -> iam.Role:
    role = iam.Role(scope, "ModelRole", assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"))
    artifact_bucket.grant_read(role)  # model.tar.gz, with the serving code under code/
    key.grant_decrypt(role)
    role.add_to_policy(
        iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[model_package_arns(scope, group)])
    )
    grant_image_pull(role, sklearn_image_uri(config.region, config.sklearn_framework_version))
    if config.training_engine == "xgboost":  # that engine's packages are served in the XGBoost image
        grant_image_pull(role, xgboost_image_uri(config.region, config.xgboost_framework_version))
    grant_sagemaker_logs(role, "/aws/sagemaker/Endpoints/*")
    return role
