"""Target-tracking auto scaling of an endpoint's variant on invocations per instance."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_applicationautoscaling as autoscaling
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from platform_config.platform import PlatformConfig
from stacks.serving.names import VARIANT


def add_autoscaling(
    scope: Construct,
    config: PlatformConfig,
    endpoint_name: str,
    endpoint: sagemaker.CfnEndpoint,
    condition: cdk.CfnCondition | None,
) -> None:
    """Scale between endpoint_min_instances and endpoint_max_instances; `condition`, when given, guards both
    resources (they cannot exist before the endpoint does)."""
    target = autoscaling.ScalableTarget(
        scope,
        "ScalableTarget",
        service_namespace=autoscaling.ServiceNamespace.SAGEMAKER,
        resource_id=f"endpoint/{endpoint_name}/variant/{VARIANT}",
        scalable_dimension="sagemaker:variant:DesiredInstanceCount",
        min_capacity=config.endpoint_min_instances,
        max_capacity=config.endpoint_max_instances,
    )
    policy = target.scale_to_track_metric(
        "InvocationsPerInstance",
        target_value=config.invocations_per_instance_target,
        predefined_metric=autoscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
        scale_in_cooldown=cdk.Duration.seconds(config.scale_in_cooldown_seconds),
        scale_out_cooldown=cdk.Duration.seconds(config.scale_out_cooldown_seconds),
    )
    scalable = target.node.default_child
    assert isinstance(scalable, cdk.CfnResource)
    scalable.add_resource_dependency(endpoint)  # the variant must exist before it can be registered
    for child in (scalable, policy.node.default_child) if condition is not None else ():
        child.cfn_options.condition = condition  # type: ignore[union-attr]
