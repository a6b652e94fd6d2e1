"""Deploy an approved model package: make it the serving stack's desired package, then update that stack.

Two kinds of event reach this function:
- 'SageMaker Model Package State Change' (Approved, this project's group): check the package in the registry
  (refusing one whose lineage or readiness metadata says it is not ready), publish its model card, write its ARN
  to the SSM parameter the stack resolves, and update the stack with its current template. CloudFormation
  re-resolves the parameter, creates a new model and endpoint config, and updates the endpoint with its
  blue/green DeploymentConfig (canary or all at once, bake, automatic rollback on alarms). Whether a package is
  deployed already is judged from what the stack resolved, not from the desired state; if CloudFormation refuses
  the update, the desired state is put back. While the stack is busy (a blue/green update lasts provisioning +
  bake + termination wait, 10+ minutes, longer than Lambda's asynchronous retries: two, one and two minutes
  apart, https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html), the package is
  parked in a "pending" parameter instead of failing into the dead-letter queue.
- 'CloudFormation Stack Status Change' to UPDATE_COMPLETE or UPDATE_ROLLBACK_COMPLETE for the serving stack:
  after a rollback, reset the desired package to the one the stack still serves; after every update, compare the
  endpoint's live EndpointConfigName with the stack's (SageMaker's automatic rollback leaves the endpoint
  InService on the old config, and whether CloudFormation then reports the update failed is not documented): on
  a mismatch publish the LiveConfigMismatch metric (alarmed) and reset the desired package to the one that
  actually serves. Then deploy the parked package, if any.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from contracts import environment as env_names
from contracts import events as ev
from contracts import metrics
from contracts.sentinels import NONE as NO_MODEL
from lambdas.deploy_model.deploy_decision import (
    ROLLED_BACK,
    SETTLED,
    CopyPlan,
    Decision,
    MalformedEvent,
    NotServable,
    decide,
    event_kind,
    package_arn_from_event,
    stack_status_from_event,
    triton_copy_plan,
)
from lambdas.shared.clients import Clients
from lambdas.shared.handler_input import require_object_event
from lambdas.shared.model_card_publisher import publish_model_card
from lambdas.shared.served_package import live_endpoint

logger = Logger()
DEPLOYED_OUTPUT = "DeployedModelPackageArn"
DESIRED_STACK_PARAMETER = "ApprovedModelPackageArn"  # the serving stack's SSM-typed parameter


class RetryLater(RuntimeError):
    """Raised so that Lambda's asynchronous retries deliver the event again once the stack has settled."""


@dataclass(frozen=True)
class StackUpdate:
    """How this function may update the serving stack and check what it did (from the stack's environment)."""

    pending_parameter: str = ""  # where an approval that arrives during an update waits ("" = no parking)
    resource_types: tuple[str, ...] = ()  # UpdateStack's ResourceTypes: the IAM policy allows exactly these
    endpoint_name: str = ""  # the live check runs only when these three are known (single-model endpoints)
    endpoint_config_logical_id: str = ""
    metrics_namespace: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> StackUpdate:
        types = tuple(t for t in env.get(env_names.UPDATE_RESOURCE_TYPES, "").split(",") if t)
        return cls(
            pending_parameter=env.get(env_names.PENDING_PACKAGE_PARAMETER, ""),
            resource_types=types,
            endpoint_name=env.get(env_names.ENDPOINT_NAME, ""),
            endpoint_config_logical_id=env.get(env_names.ENDPOINT_CONFIG_LOGICAL_ID, ""),
            metrics_namespace=env.get(env_names.DEPLOY_METRICS_NAMESPACE, ""),
        )


def on_approval(
    event: dict[str, Any],
    aws: Clients,
    group: str,
    parameter: str,
    stack_name: str,
    multi_model_url: str = "",
    triton_url: str = "",
    live_model_parameter: str = "",
    update: StackUpdate = StackUpdate(),
) -> Decision:
    arn = package_arn_from_event(event)
    package = {"ModelPackageArn": arn, **aws.sagemaker.describe_model_package(ModelPackageName=arn)}
    stack = aws.cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    # Multi-model and Triton endpoints serve what was copied under their prefix: the desired state is the record.
    served = _desired(aws, parameter) if (multi_model_url or triton_url) else resolved_package(stack)
    decision = decide(package, group, served, stack["StackStatus"])
    if decision.action == "wait":
        return _park(aws, update, decision)
    if decision.action == "refuse":
        # Visible where the approver looks: the registry shows the package Rejected with the reason.
        aws.sagemaker.update_model_package(
            ModelPackageArn=arn,
            ModelApprovalStatus="Rejected",
            ApprovalDescription=f"deploy refused: {decision.reason}"[:1024],
        )
        return decision
    if decision.action == "deploy":
        # One SageMaker Model Card per approved package, as the retraining loop's approval publishes it; a card
        # that cannot be published fails the deployment (retried, then the dead-letter queue).
        card_arn = publish_model_card(aws.sagemaker, aws.s3, arn, package.get("CustomerMetadataProperties"))
        if card_arn:
            decision = Decision("deploy", arn, f"{decision.reason}; model card {card_arn}")
        if triton_url:
            # A Triton multi-model endpoint loads any archive under its prefix on demand: copy it, record it as the
            # live TargetModel, no stack update. A package without a Triton archive is not servable here.
            try:
                plan = triton_copy_plan(package, triton_url)
            except NotServable as exc:
                return Decision("skip", arn, str(exc))
            publish_triton_archive(aws.s3, plan)
            aws.ssm.put_parameter(Name=live_model_parameter, Value=plan.target_model, Type="String", Overwrite=True)
            decision = Decision("deploy", arn, f"{decision.reason}; live as TargetModel {plan.target_model}")
        elif multi_model_url:
            # A multi-model endpoint loads any artifact under its prefix on demand: no stack update needed.
            target = publish_to_multi_model(aws.s3, package, multi_model_url)
            decision = Decision("deploy", arn, f"{decision.reason}; available as TargetModel {target}")
        if multi_model_url or triton_url:
            _put(aws, parameter, arn)
            return decision
        previous = _desired(aws, parameter)
        _put(aws, parameter, arn)  # the update resolves the parameter when CloudFormation accepts the call
        if not _update_stack(aws.cloudformation, stack, update.resource_types):
            _put(aws, parameter, previous)  # refused: the desired state keeps saying what the stack resolved
            return _park(aws, update, Decision("wait", arn, "the stack became busy before the update"))
        if update.pending_parameter and _desired(aws, update.pending_parameter) == arn:
            _put(aws, update.pending_parameter, NO_MODEL)
    return decision


def resolved_package(stack: dict[str, Any]) -> str:
    """The package the stack resolved at its last create or update (CloudFormation reports an SSM-typed
    parameter's ResolvedValue, https://docs.aws.amazon.com/AWSCloudFormation/latest/APIReference/API_Parameter.html),
    else its output (older stacks, the twin's contract stack)."""
    for parameter in stack.get("Parameters", []):
        if parameter["ParameterKey"] == DESIRED_STACK_PARAMETER and parameter.get("ResolvedValue"):
            return str(parameter["ResolvedValue"])
    return next((o["OutputValue"] for o in stack.get("Outputs", []) if o["OutputKey"] == DEPLOYED_OUTPUT), NO_MODEL)


def _park(aws: Clients, update: StackUpdate, decision: Decision) -> Decision:
    """The stack is busy: remember the package (latest approval wins) for when the stack settles."""
    if not update.pending_parameter:
        raise RetryLater(decision.reason)  # nowhere to park it: Lambda's asynchronous retries
    _put(aws, update.pending_parameter, decision.package_arn)
    return Decision("wait", decision.package_arn, f"{decision.reason}; parked until the stack settles")


def publish_to_multi_model(s3: Any, package: dict[str, Any], prefix_url: str) -> str:
    """Copy the package's model.tar.gz to `<prefix>/<group>-<version>.tar.gz`; the name is the TargetModel."""
    source = urlparse(package["InferenceSpecification"]["Containers"][0]["ModelDataUrl"])
    target = urlparse(prefix_url)
    name = package["ModelPackageArn"].split(":model-package/", 1)[1].replace("/", "-") + ".tar.gz"
    key = f"{target.path.strip('/')}/{name}"
    s3.copy_object(Bucket=target.netloc, Key=key, CopySource={"Bucket": source.netloc, "Key": source.path.lstrip("/")})
    return name


def publish_triton_archive(s3: Any, plan: CopyPlan) -> None:
    """Copy the package's Triton archive to its TargetModel key (server-side; SSE-KMS as the bucket's default)."""
    s3.copy_object(
        Bucket=plan.target_bucket,
        Key=plan.target_key,
        CopySource={"Bucket": plan.source_bucket, "Key": plan.source_key},
    )


def on_stack_status(
    event: dict[str, Any],
    aws: Clients,
    parameter: str,
    stack_name: str,
    update: StackUpdate = StackUpdate(),
    **mode: str,
) -> Decision:
    """The stack settled: reset the desired state to what serves, then deploy what waits.

    `mode` carries on_approval's serving-mode arguments (multi_model_url, triton_url, live_model_parameter) for
    the parked package.
    """
    status = stack_status_from_event(event)
    stack = aws.cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    served = resolved_package(stack)
    if status not in SETTLED or stack["StackStatus"].endswith("_IN_PROGRESS"):
        return Decision("skip", served, f"stack status {status} ({stack['StackStatus']}) needs no action")
    decision = Decision("skip", served, "desired package already matches the served one")
    if status == ROLLED_BACK and _desired(aws, parameter) != served:
        _put(aws, parameter, served)
        decision = Decision("reset", served, "deployment rolled back: desired package reset to the served one")
    live = check_live_endpoint(aws, stack, update)
    if live is not None and _desired(aws, parameter) != live:
        _put(aws, parameter, live)
        decision = Decision("reset", live, "the endpoint serves another config than the stack's (SageMaker rolled "
                            "the update back): desired package reset to the live one")  # fmt: skip
    pending = _desired(aws, update.pending_parameter) if update.pending_parameter else NO_MODEL
    if pending != NO_MODEL:
        _put(aws, update.pending_parameter, NO_MODEL)
        group = os.environ.get(env_names.MODEL_PACKAGE_GROUP, "")
        parked = _approval(pending)
        return on_approval(parked, aws, group, parameter, stack_name, update=update, **mode)
    return decision


def check_live_endpoint(aws: Clients, stack: dict[str, Any], update: StackUpdate) -> str | None:
    """Compare the endpoint's live EndpointConfigName with the stack's; on a mismatch, the package that serves.

    Publishes LiveConfigMismatch (1 or 0) each time it can compare, so its alarm sees data after every update.
    """
    if not (update.endpoint_name and update.endpoint_config_logical_id and update.metrics_namespace):
        return None
    try:
        resource = aws.cloudformation.describe_stack_resource(
            StackName=stack["StackName"], LogicalResourceId=update.endpoint_config_logical_id
        )["StackResourceDetail"]
    except ClientError as exc:  # no approved package yet: the conditional endpoint config does not exist
        if exc.response["Error"]["Code"] != "ValidationError":
            raise
        return None
    live = live_endpoint(aws.sagemaker, update.endpoint_name)
    if live is None:
        return None
    mismatch = live.endpoint_config_name != resource["PhysicalResourceId"]
    aws.cloudwatch.put_metric_data(
        Namespace=update.metrics_namespace,
        MetricData=[
            {
                "MetricName": metrics.LIVE_CONFIG_MISMATCH,
                "Dimensions": [{"Name": metrics.ENDPOINT_NAME, "Value": update.endpoint_name}],
                "Value": 1.0 if mismatch else 0.0,
                "Unit": "Count",
            }
        ],
    )
    if mismatch:
        logger.error(
            "endpoint serves another config than the stack",
            extra={
                "live": live.endpoint_config_name,
                "stack": resource["PhysicalResourceId"],
                "live_package": live.package_arn,
            },
        )
    return live.package_arn if mismatch and live.package_arn else None


def _approval(arn: str) -> dict[str, Any]:
    return {ev.DETAIL_TYPE: ev.MODEL_PACKAGE_STATE_CHANGE, ev.DETAIL: {ev.MODEL_PACKAGE_ARN: arn}}


def _put(aws: Clients, name: str, value: str) -> None:
    aws.ssm.put_parameter(Name=name, Value=value, Type="String", Overwrite=True)


def _desired(aws: Clients, parameter: str) -> str:
    try:
        return str(aws.ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ParameterNotFound":
            raise
        return NO_MODEL


def _update_stack(cloudformation: Any, stack: dict[str, Any], resource_types: tuple[str, ...] = ()) -> bool:
    """Update the serving stack with its current template; CloudFormation re-reads the SSM parameter.

    True when CloudFormation accepted the update (or had nothing to do), False when the stack was busy. The call
    names the resource types it may touch (ResourceTypes): the function's IAM policy allows UpdateStack only
    with exactly those and no TemplateURL, so its role cannot deploy other kinds of resources through the stack's
    CloudFormation role.
    """
    parameters = [{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in stack.get("Parameters", [])]
    extra = {"ResourceTypes": list(resource_types)} if resource_types else {}
    try:
        cloudformation.update_stack(
            StackName=stack["StackName"],
            UsePreviousTemplate=True,
            Parameters=parameters,
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
            **extra,
        )
    except ClientError as exc:
        message = exc.response["Error"].get("Message", "")
        if "No updates are to be performed" in message:
            logger.info("stack already resolves the desired package")
            return True
        if "_IN_PROGRESS state" in message:
            return False
        raise
    return True


def rejected(reason: str) -> dict[str, str]:
    """A malformed event is not retryable (the same event would fail the same way): reported, nothing changed."""
    logger.error("malformed event", extra={"error": reason})
    return {"action": "rejected", "reason": reason}


@require_object_event(rejected=rejected)
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    parameter = os.environ[env_names.APPROVED_PACKAGE_PARAMETER]
    stack_name = os.environ[env_names.SERVING_STACK_NAME]
    update = StackUpdate.from_env(os.environ)
    try:
        triton = {
            "triton_url": os.environ.get(env_names.TRITON_MODEL_URL, ""),
            "live_model_parameter": os.environ.get(env_names.TRITON_LIVE_MODEL_PARAMETER, ""),
        }
        multi_model = os.environ.get(env_names.MULTI_MODEL_URL, "")
        if event_kind(event) == "approval":
            group = os.environ[env_names.MODEL_PACKAGE_GROUP]
            decision = on_approval(event, Clients(), group, parameter, stack_name, multi_model, **triton, update=update)
        else:
            decision = on_stack_status(
                event, Clients(), parameter, stack_name, update, multi_model_url=multi_model, **triton
            )
    except MalformedEvent as exc:
        return rejected(str(exc))
    logger.info(
        "decision", extra={"action": decision.action, "package": decision.package_arn, "reason": decision.reason}
    )
    return {"action": decision.action, "package_arn": decision.package_arn, "reason": decision.reason}
