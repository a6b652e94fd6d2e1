"""The approved model package as a stack sees it: an SSM-backed parameter and a "has a model" condition.

Every stack that depends on what is deployed (serving, monitoring) resolves the same SSM parameter at each
deploy, so none of them can roll back a deployment made through the deploy function. Created directly in the
stack (not in a nested construct) so the parameter keeps the logical ID the deploy function passes on updates.
"""

from __future__ import annotations

import aws_cdk as cdk

from stacks.config import PlatformConfig

NO_MODEL = "none"  # the parameter's value before the first approval


def resolve_approved_package(stack: cdk.Stack, config: PlatformConfig) -> tuple[cdk.CfnParameter, cdk.CfnCondition]:
    parameter = cdk.CfnParameter(
        stack,
        "ApprovedModelPackageArn",
        type="AWS::SSM::Parameter::Value<String>",
        default=config.approved_package_parameter,
        description="SSM parameter with the approved model package ARN (written by the deploy function)",
    )
    has_model = cdk.CfnCondition(
        stack,
        "HasApprovedModel",
        expression=cdk.Fn.condition_not(cdk.Fn.condition_equals(parameter.value_as_string, NO_MODEL)),
    )
    return parameter, has_model
