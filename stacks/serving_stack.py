"""ServingStack: the endpoint for the approved model package, its guardrails, scaling and deploy path.

Deploy path (see README "How a model reaches the endpoint"): a model package approved in the registry emits an
EventBridge event; the deploy function checks the package is Approved in this project's group, writes its ARN to
an SSM parameter and updates this stack. The stack reads that parameter as an `AWS::SSM::Parameter::Value<String>`
parameter, so every update, including a later `cdk deploy`, serves the approved package and never rolls it back.
Until the first approval the parameter is "none" and the HasApprovedModel condition leaves the model and endpoint
out, so the stack deploys cleanly without a model.

The endpoint itself is one construct per serving mode (stacks/serving/modes/, docs/serving-modes.md); this stack
composes it with the pieces every mode shares (stacks/serving/).
"""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from platform_config.platform import PlatformConfig
from stacks.constructs.approved_package import approved_package_parameter, has_model_condition
from stacks.serving.batch_transform import add_batch_transform
from stacks.serving.deploy_path import add_deploy_path
from stacks.serving.guardrails import rollback_alarms
from stacks.serving.model_role import model_role
from stacks.serving.modes import MODE_CONSTRUCT_ID, ModeProps, mode_class
from stacks.serving.names import VARIANT


class ServingStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: PlatformConfig,
        key: kms.IKey,
        artifact_bucket: s3.IBucket,
        capture_bucket: s3.IBucket,
        model_package_group_name: str,
        approved_package: ssm.IStringParameter,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        mode_type = mode_class(config)  # first: an unknown mode fails before anything is built
        self.endpoint_name = config.resource_name("endpoint")
        self.variant_name = VARIANT
        self.approved_package_arn = approved_package_parameter(self, config)
        # Only a mode whose resources wait for an approved package gets the condition (no unused condition).
        has_model = has_model_condition(self, self.approved_package_arn) if mode_type.waits_for_approved_model else None
        self.model_role = model_role(self, config, key, artifact_bucket, model_package_group_name)
        self.alarms = rollback_alarms(self, config, self.endpoint_name)
        self.notifications = sns.Topic(self, "Notifications", master_key=key, enforce_ssl=True)
        self.mode = mode_type(
            self,
            MODE_CONSTRUCT_ID,
            props=ModeProps(
                config=config,
                key=key,
                artifact_bucket=artifact_bucket,
                capture_bucket=capture_bucket,
                endpoint_name=self.endpoint_name,
                model_role=self.model_role,
                approved_package_arn=self.approved_package_arn,
                has_model=has_model,
                rollback_alarms=self.alarms,
                notifications=self.notifications,
            ),
        )
        self.endpoint = self.mode.endpoint
        self.deploy_function = add_deploy_path(
            self,
            config=config,
            group=model_package_group_name,
            approved_package=approved_package,
            mode=self.mode,
            artifact_bucket=artifact_bucket,
            key=key,
            notifications=self.notifications,
            endpoint_name=self.endpoint_name,
        )
        if config.batch_transform:
            self.batch_function = add_batch_transform(
                self,
                config=config,
                key=key,
                capture_bucket=capture_bucket,
                group=model_package_group_name,
                approved_package=approved_package,
                model_role=self.model_role,
            )
        # Unconditional: the delivery pipeline's smoke test reads them in every state (the name is constant).
        self.endpoint_name_output = cdk.CfnOutput(self, "EndpointName", value=self.endpoint_name)
        self.deployed_model_output = cdk.CfnOutput(
            self, "DeployedModelPackageArn", value=self.approved_package_arn.value_as_string
        )
        self.triton_live_model_output = self.mode.live_model_output
