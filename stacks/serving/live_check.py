"""The deploy function's live-config check (single-model modes): is the endpoint serving the stack's config?

SageMaker can roll a blue/green update back while CloudFormation reports success; the deploy function then
compares the live endpoint -> config -> model chain with the stack and publishes a mismatch metric, alarmed here.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from contracts import environment as env_names
from contracts import metrics
from platform_config.platform import PlatformConfig


def live_check_environment(
    config: PlatformConfig, endpoint_name: str, endpoint_config: sagemaker.CfnEndpointConfig
) -> dict[str, str]:
    """What the deploy function needs to compare the live endpoint with the stack."""
    return {
        env_names.ENDPOINT_NAME: endpoint_name,
        env_names.ENDPOINT_CONFIG_LOGICAL_ID: cdk.Stack.of(endpoint_config).get_logical_id(endpoint_config),
        env_names.DEPLOY_METRICS_NAMESPACE: metrics.deploy_namespace(config.project_name),
    }


def grant_live_check(
    scope: Construct, config: PlatformConfig, role: iam.IRole, endpoint_name: str, notifications: sns.ITopic
) -> None:
    """Read the live endpoint -> config -> model chain; publish the mismatch metric, which is alarmed."""
    stack = cdk.Stack.of(scope)
    names = {"endpoint": endpoint_name, "endpoint-config": "*", "model": "*"}
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["sagemaker:DescribeEndpoint", "sagemaker:DescribeEndpointConfig", "sagemaker:DescribeModel"],
            resources=[stack.format_arn(service="sagemaker", resource=k, resource_name=v) for k, v in names.items()],
        )
    )
    namespace = metrics.deploy_namespace(config.project_name)
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringEquals": {"cloudwatch:namespace": namespace}},
        )
    )
    alarm = cloudwatch.Alarm(
        scope,
        "LiveConfigMismatchAlarm",
        alarm_description="The endpoint serves another EndpointConfig than the serving stack's (a SageMaker "
        "rollback CloudFormation reported as success): the desired package was reset to the live one",
        metric=cloudwatch.Metric(
            namespace=namespace,
            metric_name=metrics.LIVE_CONFIG_MISMATCH,
            dimensions_map={metrics.ENDPOINT_NAME: endpoint_name},
            statistic="Maximum",
            period=cdk.Duration.minutes(5),
        ),
        threshold=1,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    alarm.add_alarm_action(cw_actions.SnsAction(notifications))
