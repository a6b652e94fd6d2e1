"""What the serving stack needs from a serving mode, and what every mode gets from the stack.

A mode is one construct that builds that mode's endpoint and nothing else. The stack builds it with the id
`MODE_CONSTRUCT_ID` ("Default"): CDK leaves a "Default" path component out of logical ids (constructs'
makeUniqueId), so the mode's resources keep the logical ids they had when the stack built them itself; a changed
logical id would make CloudFormation replace the production endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from constructs import Construct

from platform_config.platform import PlatformConfig
from stacks.serving.guardrails import all_at_once, blue_green

MODE_CONSTRUCT_ID = "Default"


@dataclass(frozen=True)
class ModeProps:
    """The stack's shared pieces a mode builds on."""

    config: PlatformConfig
    key: kms.IKey
    artifact_bucket: s3.IBucket
    capture_bucket: s3.IBucket
    endpoint_name: str
    model_role: iam.Role  # the model's execution role (shared with batch transform)
    approved_package_arn: cdk.CfnParameter  # the approved package, resolved from SSM at every deploy
    has_model: cdk.CfnCondition | None  # "an approved package exists"; None for a mode that does not wait for one
    rollback_alarms: Sequence[cloudwatch.IAlarm]
    notifications: sns.ITopic


class ServingMode(Construct):
    """One serving mode's endpoint. Subclasses build it in __init__ and set `endpoint`."""

    # Whether the mode's resources wait for an approved package (the stack then creates the HasApprovedModel
    # condition and passes it in `props.has_model`).
    waits_for_approved_model: ClassVar[bool] = True

    endpoint: sagemaker.CfnEndpoint
    # A stack output the delivery pipeline's smoke test reads in this mode only (Triton: its live-model parameter).
    live_model_output: cdk.CfnOutput | None = None

    def __init__(self, scope: Construct, construct_id: str, *, props: ModeProps) -> None:
        super().__init__(scope, construct_id)
        self.props = props

    @property
    def live_endpoint_config(self) -> sagemaker.CfnEndpointConfig | None:
        """The endpoint config a stack update makes live, for the deploy function's live-config check; None when
        approvals reach the endpoint without a stack update (multi-model, Triton)."""
        return None

    def deploy_environment(self) -> dict[str, str]:
        """The deploy function's mode-specific environment."""
        return {}

    def grant_deploy(self, role: iam.IRole) -> None:
        """What the deploy function's role needs in this mode beyond the shared deploy path."""

    def traffic_routing(self) -> sagemaker.CfnEndpoint.TrafficRoutingConfigProperty:
        """How a blue/green update shifts traffic in this mode."""
        return all_at_once(self.props.config)

    def deployment_config(self) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
        return blue_green(self.props.config, self.props.rollback_alarms, self.traffic_routing())
