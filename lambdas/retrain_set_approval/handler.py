"""Approve or reject the challenger in the Model Registry, with the comparison as the reason.

Input: {"model_package_arn": str, "approve": bool, "reason": str}. Approving emits the registry's approval event,
which the serving stack's deploy function turns into a blue/green deployment.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools import Logger

logger = Logger()
_sagemaker: Any = None


def sagemaker() -> Any:
    global _sagemaker
    if _sagemaker is None:
        _sagemaker = boto3.client("sagemaker")
    return _sagemaker


def set_approval(event: dict[str, Any], client: Any) -> dict[str, str]:
    arn, approve, reason = event.get("model_package_arn"), event.get("approve"), event.get("reason", "")
    if not isinstance(arn, str) or not isinstance(approve, bool):
        raise ValueError(f"input: expected model_package_arn and a boolean approve ({event!r})")
    status = "Approved" if approve else "Rejected"
    client.update_model_package(
        ModelPackageArn=arn, ModelApprovalStatus=status, ApprovalDescription=f"retraining loop: {reason}"[:1024]
    )
    return {"model_package_arn": arn, "status": status}


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    result = set_approval(event, sagemaker())
    logger.info("approval set", extra=result)
    return result
