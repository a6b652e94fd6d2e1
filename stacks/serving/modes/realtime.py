"""serving_mode "realtime": the approved package on instances, canary traffic shifting, auto scaling."""

from __future__ import annotations

from typing import ClassVar

import aws_cdk as cdk
from aws_cdk import aws_sagemaker as sagemaker
from constructs import Construct

from stacks.serving.guardrails import all_at_once
from stacks.serving.modes.base import ModeProps
from stacks.serving.modes.model_container import ModelContainerMode
from stacks.serving.scaling import add_autoscaling


class RealtimeMode(ModelContainerMode):
    retain_variant_properties: ClassVar[bool] = True

    def __init__(self, scope: Construct, construct_id: str, *, props: ModeProps) -> None:
        super().__init__(scope, construct_id, props=props)
        add_autoscaling(self, props.config, props.endpoint_name, self.endpoint, props.has_model)

    def traffic_routing(self) -> sagemaker.CfnEndpoint.TrafficRoutingConfigProperty:
        config = self.props.config
        if config.endpoint_min_instances >= 2:
            return sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                type="CANARY",
                canary_size=sagemaker.CfnEndpoint.CapacitySizeProperty(
                    type="CAPACITY_PERCENT", value=config.canary_percent
                ),
                wait_interval_in_seconds=config.canary_bake_seconds,
            )
        # "the canary size should be less than or equal to 50% of the new fleet's capacity"
        # (https://docs.aws.amazon.com/sagemaker/latest/dg/deployment-guardrails-blue-green-canary.html): on one
        # instance the canary is the whole fleet, so shift all at once and bake with the same alarms instead.
        cdk.Annotations.of(cdk.Stack.of(self)).add_warning_v2(
            "mlops:canary-needs-two-instances",
            f"endpoint_min_instances is {config.endpoint_min_instances}: a canary needs at least 2 instances "
            "(at most 50% of the new fleet), so deployments shift ALL_AT_ONCE and bake "
            f"{config.canary_bake_seconds} s with automatic rollback on the alarms.",
        )
        return all_at_once(config)
