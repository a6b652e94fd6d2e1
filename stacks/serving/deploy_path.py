"""The deploy path: an approved package reaches the endpoint through the deploy function (README "How a model
reaches the endpoint", docs/deploy-path.md).

Approval events and this stack's finished updates invoke the function; it writes the desired package to SSM and
updates this stack with the previous template (a fenced UpdateStack), or, in the multi-model modes, copies the
package's archive under the endpoint's prefix. The resources keep the stack as their scope (their logical ids).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm

from contracts import environment as env_names
from contracts import events as ev
from contracts import ssm as ssm_names
from platform_config.platform import PlatformConfig
from stacks.build_stack import PIPELINE_PREFIX
from stacks.constructs.python_handler import PythonHandler
from stacks.constructs.sagemaker_grants import grant_model_card_publishing
from stacks.serving.failure_queue import failure_queue
from stacks.serving.live_check import grant_live_check, live_check_environment
from stacks.serving.model_role import model_package_arns
from stacks.serving.modes.base import ServingMode
from stacks.serving.names import DEPLOY_RESOURCE_TYPES


def add_deploy_path(
    stack: cdk.Stack,
    *,
    config: PlatformConfig,
    group: str,
    approved_package: ssm.IStringParameter,
    mode: ServingMode,
    artifact_bucket: s3.IBucket,
    key: kms.IKey,
    notifications: sns.ITopic,
    endpoint_name: str,
) -> PythonHandler:
    live_config = mode.live_endpoint_config
    live_check = live_check_environment(config, endpoint_name, live_config) if live_config is not None else {}
    handler = PythonHandler(
        stack,
        "DeployModel",
        folder="deploy_model",
        description="Deploys an approved model package to the endpoint (blue/green, via this stack)",
        environment={
            env_names.MODEL_PACKAGE_GROUP: group,
            env_names.APPROVED_PACKAGE_PARAMETER: config.approved_package_parameter,
            env_names.SERVING_STACK_NAME: stack.stack_name,
            env_names.PENDING_PACKAGE_PARAMETER: ssm_names.pending_package_parameter(config.project_name),
            env_names.UPDATE_RESOURCE_TYPES: ",".join(DEPLOY_RESOURCE_TYPES),
            **live_check,
            **mode.deploy_environment(),
        },
        powertools_layer_version=config.powertools_layer_version,
        reserved_concurrency=1,  # deployments are serialised: one stack update at a time
    )
    role = handler.role
    role.add_to_policy(
        iam.PolicyStatement(
            # Update: a manually approved package that is not ready is set back to Rejected, with the reason.
            actions=["sagemaker:DescribeModelPackage", "sagemaker:UpdateModelPackage"],
            resources=[model_package_arns(stack, group)],
        )
    )
    approved_package.grant_read(role)
    approved_package.grant_write(role)
    # A manual approval publishes the package's model card, as the retraining loop's does; the card's content
    # is the pipeline's governance output.
    grant_model_card_publishing(role, group)
    artifact_bucket.grant_read(role, f"{PIPELINE_PREFIX}/*")
    key.grant_decrypt(role)
    mode.grant_deploy(role)
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudformation:DescribeStacks", "cloudformation:DescribeStackResource"],
            resources=[stack.stack_id],
        )
    )
    # UpdateStack runs with the stack's CloudFormation role (CDK's execution role), which CloudFormation uses
    # "even if the users don't have permission to pass it" (API_UpdateStack, RoleARN). So the call itself is
    # fenced: no TemplateURL (the template of the last deploy, or a body), and exactly DEPLOY_RESOURCE_TYPES,
    # so CloudFormation refuses an update through this role that would create or change anything else
    # (IAM roles, functions, buckets). Condition keys: Service Authorization Reference, AWS CloudFormation.
    role.add_to_policy(
        iam.PolicyStatement(
            actions=["cloudformation:UpdateStack"],
            resources=[stack.stack_id],
            conditions={
                "Null": {"cloudformation:TemplateUrl": "true", "cloudformation:ResourceTypes": "false"},
                "ForAllValues:StringEquals": {"cloudformation:ResourceTypes": list(DEPLOY_RESOURCE_TYPES)},
            },
        )
    )
    pending = stack.format_arn(
        service="ssm",
        resource="parameter",
        resource_name=ssm_names.pending_package_parameter(config.project_name).lstrip("/"),
    )
    role.add_to_policy(iam.PolicyStatement(actions=["ssm:GetParameter", "ssm:PutParameter"], resources=[pending]))
    if live_check:
        grant_live_check(stack, config, role, endpoint_name, notifications)
    _grant_update_as_cloudformation_role(stack, role)
    # Function errors (RetryLater while the stack updates) are retried by Lambda's asynchronous invocation.
    dead_letters = failure_queue(
        stack, handler, "DeployDeadLetters", "the dead-letter queue of the deploy function and of its event rules"
    )
    _add_triggers(stack, group, handler, dead_letters)
    return handler


def _grant_update_as_cloudformation_role(stack: cdk.Stack, role: iam.IRole) -> None:
    """UpdateStack without a RoleARN runs as the role the stack was deployed with (CDK's CloudFormation
    execution role), which the function hands over to CloudFormation."""
    qualifier = stack.node.try_get_context("@aws-cdk/core:bootstrapQualifier") or "hnb659fds"
    # The template's BootstrapVersion parameter is an SSM parameter type; CloudFormation resolves it with the
    # UpdateStack caller's permissions, so the caller needs ssm:GetParameters on it ("Systems Manager parameter
    # types", https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-supplied-parameter-types.html).
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["ssm:GetParameters"],
            resources=[
                stack.format_arn(
                    service="ssm", resource="parameter", resource_name=f"cdk-bootstrap/{qualifier}/version"
                )
            ],
        )
    )
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["iam:PassRole"],
            resources=[
                stack.format_arn(
                    service="iam",
                    region="",
                    resource="role",
                    resource_name=f"cdk-{qualifier}-cfn-exec-role-{stack.account}-{stack.region}",
                )
            ],
            conditions={"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}},
        )
    )


def _add_triggers(stack: cdk.Stack, group: str, handler: PythonHandler, dead_letters: sqs.IQueue) -> None:
    """Approvals of this project's packages, and this stack's finished updates, invoke the deploy function."""
    target = targets.LambdaFunction(
        handler.function, dead_letter_queue=dead_letters, retry_attempts=4, max_event_age=cdk.Duration.hours(2)
    )
    events.Rule(
        stack,
        "ModelApproved",
        description="A model package of this project was approved",
        event_pattern=events.EventPattern(
            source=[ev.SAGEMAKER],
            detail_type=[ev.MODEL_PACKAGE_STATE_CHANGE],
            detail={ev.MODEL_PACKAGE_GROUP_NAME: [group], ev.MODEL_APPROVAL_STATUS: [ev.APPROVED]},
        ),
        targets=[target],
    )
    events.Rule(
        stack,
        "DeploymentRolledBack",
        description="An update of this stack finished or rolled back (e.g. the endpoint's blue/green alarms fired)",
        event_pattern=events.EventPattern(
            source=[ev.CLOUDFORMATION],
            detail_type=[ev.STACK_STATUS_CHANGE],
            # Every finished update: a rollback resets the desired state, a success is checked against the
            # live endpoint, and either one releases an approval parked during the update.
            detail={
                ev.STACK_ID: [stack.stack_id],
                ev.STATUS_DETAILS: {ev.STATUS: [ev.UPDATE_COMPLETE, ev.UPDATE_ROLLBACK_COMPLETE]},
            },
        ),
        targets=[target],
    )
