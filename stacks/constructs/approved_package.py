"""The approved model package as a stack sees it: an SSM-backed parameter and a "has a model" condition.

Every stack that depends on what is deployed (serving, monitoring) resolves the same SSM parameter at each
deploy, so none of them can roll back a deployment made through the deploy function.

Who owns the value (the desired state): the deploy function, only. CloudFormation creates the parameter once, with
"none", through a create-only custom resource (`DesiredState`). It is deliberately not an `AWS::SSM::Parameter`:
CloudFormation's update handler of that type writes the template's `Value` whenever any of its properties
changes (a tag, a description), which would reset an approved package to "none" and make the next serving-stack
update delete the endpoint. The custom resource has no update call (AwsCustomResource: "on_update ... Default: no
call") and creates with `Overwrite: false` (PutParameter answers "ParameterAlreadyExists" when the name exists,
https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html), so neither a property
change nor a re-created stack can overwrite an approval. Deleting the stack keeps the parameter (no delete call).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from aws_cdk import custom_resources as cr
from constructs import Construct

from contracts.sentinels import NONE as NO_MODEL  # the parameter's value before the first approval
from platform_config.platform import PlatformConfig


def approved_package_parameter(stack: cdk.Stack, config: PlatformConfig) -> cdk.CfnParameter:
    """The approved package's ARN, resolved from the desired-state SSM parameter at every deploy."""
    return cdk.CfnParameter(
        stack,
        "ApprovedModelPackageArn",
        type="AWS::SSM::Parameter::Value<String>",
        default=config.approved_package_parameter,
        description="SSM parameter with the approved model package ARN (written by the deploy function)",
    )


def has_model_condition(stack: cdk.Stack, parameter: cdk.CfnParameter) -> cdk.CfnCondition:
    """True once a package was approved: what needs a deployed model waits for it."""
    return cdk.CfnCondition(
        stack,
        "HasApprovedModel",
        expression=cdk.Fn.condition_not(cdk.Fn.condition_equals(parameter.value_as_string, NO_MODEL)),
    )


def resolve_approved_package(stack: cdk.Stack, config: PlatformConfig) -> tuple[cdk.CfnParameter, cdk.CfnCondition]:
    parameter = approved_package_parameter(stack, config)
    return parameter, has_model_condition(stack, parameter)


class DesiredState(Construct):
    """Creates the desired-state parameter once ("none"); never writes it again. `parameter` is for grants."""

    def __init__(self, scope: Construct, construct_id: str, *, config: PlatformConfig) -> None:
        super().__init__(scope, construct_id)
        name = config.approved_package_parameter
        self.parameter = ssm.StringParameter.from_string_parameter_name(self, "Parameter", name)
        # Its own role and log group (no AWSLambdaBasicExecutionRole): it may write this one parameter and its logs.
        role = iam.Role(
            self, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"), description="Creates " + name
        )
        log_group = logs.LogGroup(
            self, "Logs", retention=logs.RetentionDays.THREE_MONTHS, removal_policy=cdk.RemovalPolicy.DESTROY
        )
        log_group.grant_write(role)
        self.resource = cr.AwsCustomResource(
            self,
            "CreateOnce",
            resource_type="Custom::DesiredModelPackage",
            on_create=cr.AwsSdkCall(
                service="SSM",
                action="putParameter",
                parameters={
                    "Name": name,
                    "Value": NO_MODEL,
                    "Type": "String",
                    "Overwrite": False,
                    "Description": "ARN of the approved model package the endpoint serves; 'none' until the first "
                    "approval. Written by the deploy function only.",
                },
                physical_resource_id=cr.PhysicalResourceId.of(name),
                # A parameter that survived an earlier stack keeps its approval.
                ignore_error_codes_matching="ParameterAlreadyExists",
            ),
            policy=cr.AwsCustomResourcePolicy.from_statements(
                [iam.PolicyStatement(actions=["ssm:PutParameter"], resources=[self.parameter.parameter_arn])]
            ),
            role=role,
            log_group=log_group,
            install_latest_aws_sdk=False,  # the runtime's SDK has PutParameter; no download at deploy time
        )
