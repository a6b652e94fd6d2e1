"""Batch scoring with the approved package: a file under batch/input/<batch>/ starts a transform job."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm

from contracts import batch_transform as batch
from contracts import environment as env_names
from platform_config.platform import PlatformConfig
from stacks.constructs.python_handler import PythonHandler
from stacks.constructs.s3_object_events import object_created
from stacks.serving.failure_queue import failure_queue
from stacks.serving.model_role import model_package_arns


def add_batch_transform(
    stack: cdk.Stack,
    *,
    config: PlatformConfig,
    key: kms.IKey,
    capture_bucket: s3.IBucket,
    group: str,
    approved_package: ssm.IStringParameter,
    model_role: iam.IRole,
) -> PythonHandler:
    name_prefix = config.resource_name("serving")
    handler = PythonHandler(
        stack,
        "BatchTransform",
        folder="batch_transform",
        description="Starts a batch transform job with the approved model package",
        environment={
            env_names.APPROVED_PACKAGE_PARAMETER: config.approved_package_parameter,
            env_names.BATCH_BUCKET: capture_bucket.bucket_name,
            env_names.NAME_PREFIX: name_prefix,
            env_names.MODEL_ROLE_ARN: model_role.role_arn,
            env_names.KMS_KEY_ARN: key.key_arn,
            env_names.INSTANCE_TYPE: config.batch_instance_type,
            env_names.INSTANCE_COUNT: str(config.batch_instance_count),
        },
        powertools_layer_version=config.powertools_layer_version,
    )
    approved_package.grant_read(handler.role)
    # The model's execution role goes to SageMaker only (CreateModel), not to any service that accepts a role
    # (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_PassedToService).
    handler.role.add_to_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[model_role.role_arn],
            conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
        )
    )
    # An event that still fails after Lambda's asynchronous retries lands here, not nowhere.
    failure_queue(
        stack, handler, "BatchTransformFailures", "the on-failure destination of the batch transform function"
    )
    jobs = [
        stack.format_arn(service="sagemaker", resource=kind, resource_name=batch.job_name(name_prefix, "*"))
        for kind in ("model", "transform-job")
    ]
    handler.role.add_to_policy(
        iam.PolicyStatement(actions=["sagemaker:CreateModel", "sagemaker:CreateTransformJob"], resources=jobs)
    )
    handler.role.add_to_policy(
        iam.PolicyStatement(actions=["sagemaker:DescribeModelPackage"], resources=[model_package_arns(stack, group)])
    )
    capture_bucket.grant_read_write(model_role, f"{batch.ROOT}*")
    # The capture bucket sends its object events to EventBridge (switched on for the drift monitor too).
    events.Rule(
        stack,
        "BatchInputArrived",
        description="A file arrived under batch/input/: score it with the approved model",
        event_pattern=object_created(capture_bucket.bucket_name, batch.INPUT_PREFIX),
        targets=[targets.LambdaFunction(handler.function, retry_attempts=2)],
    )
    return handler
