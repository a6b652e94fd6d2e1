"""Approve or reject the challenger in the Model Registry, with the comparison as the reason.

Input: {"model_package_arn": str, "approve": bool, "reason": str}. Approving emits the registry's approval event,
which the serving stack's deploy function turns into a blue/green deployment. A package whose metadata says its
lineage is incomplete or its readiness failed is rejected instead, and PackageNotReady is raised so the state
machine takes its failure path (notified, champion kept). Before approving, the package's model card (built at
build time, located by its metadata) is published as a SageMaker Model Card (see model_card_publisher).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from contracts import state_machine as sm
from lambdas.shared.clients import client
from lambdas.shared.handler_input import require_object_event
from lambdas.shared.model_card_publisher import publish_model_card
from lambdas.shared.readiness_gate import PackageNotReady, refusal

logger = Logger()


def set_approval(event: dict[str, Any], client: Any, s3: Any = None) -> dict[str, str]:
    arn, approve, reason = event.get(sm.MODEL_PACKAGE_ARN), event.get(sm.APPROVE), event.get(sm.REASON, "")
    if not isinstance(arn, str) or not isinstance(approve, bool):
        raise ValueError(f"input: expected model_package_arn and a boolean approve ({event!r})")
    card_arn = None
    if approve:
        metadata = client.describe_model_package(ModelPackageName=arn).get("CustomerMetadataProperties")
        refused = refusal(arn, metadata)
        if refused:
            client.update_model_package(
                ModelPackageArn=arn, ModelApprovalStatus="Rejected", ApprovalDescription=f"readiness: {refused}"[:1024]
            )
            raise PackageNotReady(refused)
        # The card first: a card that cannot be published fails the approval (caught by the state machine).
        card_arn = publish_model_card(client, s3, arn, metadata)
    status = "Approved" if approve else "Rejected"
    client.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=f"retraining loop: {reason}"[:1024]
    )
    result = {sm.MODEL_PACKAGE_ARN: arn, sm.STATUS: status}
    if card_arn:
        result["model_card_arn"] = card_arn
    return result


@require_object_event
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    result = set_approval(event, client("sagemaker"))
    logger.info("approval set", extra=result)
    return result
