"""Least-privilege roles for the SageMaker Pipeline (the orchestrator) and for its jobs (the containers).

Two roles, so that the containers, which run user code, cannot create jobs or register models, and the
orchestrator cannot read the training data. The wildcards that remain (S3 objects, job name prefixes) are
reviewed in stacks/nag_review.py.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from constructs import Construct

from stacks.constructs.sagemaker_grants import grant_image_pull, grant_sagemaker_logs
from stacks.constructs.step_code import StepCode

SAGEMAKER = iam.ServicePrincipal("sagemaker.amazonaws.com")
# Jobs started by SageMaker Pipelines are named pipelines-<execution>-<step>.
PIPELINE_JOB_PATTERN = "pipelines-*"
MLFLOW_LOGGING_ACTIONS = [
    "sagemaker-mlflow:CreateExperiment",
    "sagemaker-mlflow:GetExperiment",
    "sagemaker-mlflow:GetExperimentByName",
    "sagemaker-mlflow:SearchExperiments",
    "sagemaker-mlflow:CreateRun",
    "sagemaker-mlflow:GetRun",
    "sagemaker-mlflow:UpdateRun",
    "sagemaker-mlflow:LogMetric",
    "sagemaker-mlflow:LogParam",
    "sagemaker-mlflow:LogBatch",
    "sagemaker-mlflow:SetTag",
]


class JobRole(iam.Role):
    """What the processing and training containers may do."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        key: kms.IKey,
        raw_bucket: s3.IBucket,
        artifact_bucket: s3.IBucket,
        step_code: StepCode,
        image_uri: str,
        feature_group_arn: str,
        mlflow_tracking_server_arn: str,
    ) -> None:
        super().__init__(
            scope, construct_id, assumed_by=SAGEMAKER, description="SageMaker processing and training jobs"
        )
        raw_bucket.grant_read(self)
        # The governance step identifies the input data by its object versions (ListObjectVersions on the bucket).
        self.add_to_policy(iam.PolicyStatement(actions=["s3:ListBucketVersions"], resources=[raw_bucket.bucket_arn]))
        artifact_bucket.grant_read_write(self)
        key.grant_encrypt_decrypt(self)
        step_code.grant_read(self)
        grant_sagemaker_logs(self)
        grant_image_pull(self, image_uri)
        self.add_to_policy(iam.PolicyStatement(actions=["sagemaker:PutRecord"], resources=[feature_group_arn]))
        self.add_to_policy(iam.PolicyStatement(actions=MLFLOW_LOGGING_ACTIONS, resources=[mlflow_tracking_server_arn]))


class PipelineRole(iam.Role):
    """What SageMaker Pipelines may do on the pipeline's behalf: start and watch its jobs, register models."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        job_role: iam.IRole,
        key: kms.IKey,
        artifact_bucket: s3.IBucket,
        model_package_group_name: str,
    ) -> None:
        super().__init__(scope, construct_id, assumed_by=SAGEMAKER, description="SageMaker Pipelines orchestration")
        stack = cdk.Stack.of(self)

        def arn(resource: str, name: str) -> str:
            return stack.format_arn(service="sagemaker", resource=resource, resource_name=name)

        self.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateProcessingJob",
                    "sagemaker:DescribeProcessingJob",
                    "sagemaker:StopProcessingJob",
                    "sagemaker:AddTags",
                ],
                resources=[arn("processing-job", PIPELINE_JOB_PATTERN)],
            )
        )
        self.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateTrainingJob",
                    "sagemaker:DescribeTrainingJob",
                    "sagemaker:StopTrainingJob",
                    "sagemaker:AddTags",
                ],
                resources=[arn("training-job", PIPELINE_JOB_PATTERN)],
            )
        )
        self.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "sagemaker:CreateModelPackage",
                    "sagemaker:DescribeModelPackage",
                    "sagemaker:AddTags",
                ],
                resources=[
                    arn("model-package", f"{model_package_group_name}/*"),
                    arn("model-package-group", model_package_group_name),
                ],
            )
        )
        self.add_to_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[job_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
            )
        )
        # The service reads evaluation.json (the accuracy gate's property file) from the artifact bucket.
        artifact_bucket.grant_read(self)
        key.grant_decrypt(self)
