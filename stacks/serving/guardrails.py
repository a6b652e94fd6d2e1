"""Blue/green guardrails every serving mode shares: the rollback alarms and the endpoint's deployment config."""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from platform_config.platform import PlatformConfig
from stacks.serving.names import VARIANT


def rollback_alarms(scope: Construct, config: PlatformConfig, endpoint_name: str) -> list[cloudwatch.Alarm]:
    """5XX errors and p99 model latency of the endpoint's variant: either one rolls a blue/green deployment back."""
    dimensions = {"EndpointName": endpoint_name, "VariantName": VARIANT}

    def metric(name: str, statistic: str) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map=dimensions,
            statistic=statistic,
            period=cdk.Duration.minutes(1),
        )

    errors = cloudwatch.Alarm(
        scope,
        "Invocation5xxAlarm",
        alarm_description="Endpoint returns 5XX errors: rolls a blue/green deployment back",
        metric=metric("Invocation5XXErrors", "Sum"),
        threshold=config.rollback_5xx_errors,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        evaluation_periods=1,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    latency = cloudwatch.Alarm(
        scope,
        "ModelLatencyAlarm",
        alarm_description="Model latency above the limit: rolls a blue/green deployment back",
        metric=metric("ModelLatency", "p99"),  # microseconds
        threshold=config.rollback_model_latency_ms * 1000,
        comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        evaluation_periods=2,
        treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
    )
    return [errors, latency]


def all_at_once(config: PlatformConfig) -> sagemaker.CfnEndpoint.TrafficRoutingConfigProperty:
    """Shift all traffic at once, then bake with the rollback alarms (canary and linear shifting need instances)."""
    return sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
        type="ALL_AT_ONCE", wait_interval_in_seconds=config.canary_bake_seconds
    )


def blue_green(
    config: PlatformConfig,
    alarms: Sequence[cloudwatch.IAlarm],
    routing: sagemaker.CfnEndpoint.TrafficRoutingConfigProperty,
) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
    """A blue/green update with `routing`, rolled back automatically when one of `alarms` fires."""
    rollback = sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
        alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=a.alarm_name) for a in alarms]
    )
    return sagemaker.CfnEndpoint.DeploymentConfigProperty(
        blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
            traffic_routing_configuration=routing,
            termination_wait_in_seconds=config.termination_wait_seconds,
            maximum_execution_timeout_in_seconds=3 * config.canary_bake_seconds
            + config.termination_wait_seconds
            + 1800,
        ),
        auto_rollback_configuration=rollback,
    )
