"""Deploy an approved model package: make it the serving stack's desired package, then update that stack.

Two EventBridge events reach this function:
- 'SageMaker Model Package State Change' (Approved, this project's group): check the package in the registry
  (refusing one whose lineage or readiness metadata says it is not ready), publish its model card, write its ARN
  to the SSM parameter the stack resolves, and update the stack with its current template. CloudFormation
  re-resolves the parameter, creates a new model and endpoint config, and updates the endpoint with its
  blue/green DeploymentConfig (canary, bake, automatic rollback on alarms).
- 'CloudFormation Stack Status Change' to UPDATE_ROLLBACK_COMPLETE for the serving stack: the deployment was
  rolled back, so reset the desired package to the one the stack still serves.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlparse

import boto3
from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from deploy_decision import (
    NO_MODEL,
    ROLLED_BACK,
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
from handler_input import require_object_event
from model_card_publisher import publish_model_card

logger = Logger()
DEPLOYED_OUTPUT = "DeployedModelPackageArn"


class RetryLater(RuntimeError):
    """Raised so that Lambda's asynchronous retries deliver the event again once the stack has settled."""


class Clients:
    """boto3 clients, created once per container; tests pass their own."""

    def __init__(self, sagemaker: Any = None, ssm: Any = None, cloudformation: Any = None, s3: Any = None) -> None:
        self.sagemaker = sagemaker or boto3.client("sagemaker")
        self.ssm = ssm or boto3.client("ssm")
        self.cloudformation = cloudformation or boto3.client("cloudformation")
        self.s3 = s3 or boto3.client("s3")


_clients: Clients | None = None


def clients() -> Clients:
    global _clients
    if _clients is None:
        _clients = Clients()
    return _clients


def on_approval(
    event: dict[str, Any],
    aws: Clients,
    group: str,
    parameter: str,
    stack_name: str,
    multi_model_url: str = "",
    triton_url: str = "",
    live_model_parameter: str = "",
) -> Decision:
    arn = package_arn_from_event(event)
    package = {"ModelPackageArn": arn, **aws.sagemaker.describe_model_package(ModelPackageName=arn)}
    stack = aws.cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    decision = decide(package, group, _desired(aws, parameter), stack["StackStatus"])
    if decision.action == "retry":
        raise RetryLater(decision.reason)
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
        aws.ssm.put_parameter(Name=parameter, Value=arn, Type="String", Overwrite=True)
        if not (multi_model_url or triton_url):
            _update_stack(aws.cloudformation, stack)
    return decision


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


def on_stack_status(event: dict[str, Any], aws: Clients, parameter: str, stack_name: str) -> Decision:
    status = stack_status_from_event(event)
    stack = aws.cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    served = next((o["OutputValue"] for o in stack.get("Outputs", []) if o["OutputKey"] == DEPLOYED_OUTPUT), NO_MODEL)
    if status != ROLLED_BACK:
        return Decision("skip", served, f"stack status {status} needs no action")
    if _desired(aws, parameter) == served:
        return Decision("skip", served, "desired package already matches the served one")
    aws.ssm.put_parameter(Name=parameter, Value=served, Type="String", Overwrite=True)
    return Decision("deploy", served, "deployment rolled back: desired package reset to the served one")


def _desired(aws: Clients, parameter: str) -> str:
    try:
        return str(aws.ssm.get_parameter(Name=parameter)["Parameter"]["Value"])
    except ClientError as exc:
        if exc.response["Error"]["Code"] != "ParameterNotFound":
            raise
        return NO_MODEL


def _update_stack(cloudformation: Any, stack: dict[str, Any]) -> None:
    """Update the serving stack with its current template; CloudFormation re-reads the SSM parameter."""
    parameters = [{"ParameterKey": p["ParameterKey"], "UsePreviousValue": True} for p in stack.get("Parameters", [])]
    try:
        cloudformation.update_stack(
            StackName=stack["StackName"],
            UsePreviousTemplate=True,
            Parameters=parameters,
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
        )
    except ClientError as exc:
        message = exc.response["Error"].get("Message", "")
        if "No updates are to be performed" in message:
            logger.info("stack already resolves the desired package")
            return
        if "_IN_PROGRESS state" in message:
            raise RetryLater(message) from exc
        raise


@require_object_event
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    parameter = os.environ["APPROVED_PACKAGE_PARAMETER"]
    stack_name = os.environ["SERVING_STACK_NAME"]
    try:
        if event_kind(event) == "approval":
            group, multi_model = os.environ["MODEL_PACKAGE_GROUP"], os.environ.get("MULTI_MODEL_URL", "")
            triton = {
                "triton_url": os.environ.get("TRITON_MODEL_URL", ""),
                "live_model_parameter": os.environ.get("TRITON_LIVE_MODEL_PARAMETER", ""),
            }
            decision = on_approval(event, clients(), group, parameter, stack_name, multi_model, **triton)
        else:
            decision = on_stack_status(event, clients(), parameter, stack_name)
    except MalformedEvent as exc:
        # Not retryable: the same event would fail the same way. Reported, nothing changed.
        logger.error("malformed event", extra={"error": str(exc)})
        return {"action": "rejected", "reason": str(exc)}
    logger.info(
        "decision", extra={"action": decision.action, "package": decision.package_arn, "reason": decision.reason}
    )
    return {"action": decision.action, "package_arn": decision.package_arn, "reason": decision.reason}
