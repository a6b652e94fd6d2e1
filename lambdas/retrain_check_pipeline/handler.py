"""Report the state of the retraining pipeline run and, once it succeeded, the model package it registered.

Input: {"pipeline_execution_arn": str}. Output: {"status": "Executing" | "Succeeded" | "Failed" | "Stopped" | ...,
"pipeline_execution_arn": str, "model_package_arn": str | None, "failure_reason": str | None}.

The pipeline's Register step writes the run's ARN into the package's CustomerMetadataProperties
(`pipeline_execution_arn`); that is how the run's package is found among the group's newest packages.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger

from contracts import environment as env_names
from contracts import state_machine as sm
from contracts.package_metadata import PIPELINE_EXECUTION_ARN as RUN_PROPERTY
from lambdas.shared.clients import client
from lambdas.shared.handler_input import require_object_event

logger = Logger()
NEWEST = 20


def check(event: dict[str, Any], client: Any, group: str) -> dict[str, Any]:
    arn = event.get(sm.PIPELINE_EXECUTION_ARN)
    if not isinstance(arn, str) or not arn:
        raise ValueError(f"input.pipeline_execution_arn: missing ({event!r})")
    described = client.describe_pipeline_execution(PipelineExecutionArn=arn)
    status, reason = described["PipelineExecutionStatus"], described.get("FailureReason")
    package = registered_package(client, group, arn) if status == sm.SUCCEEDED else None
    if status == sm.SUCCEEDED and package is None:
        # The pipeline can only succeed through its Register step; anything else is a broken pipeline.
        status, reason = "Failed", "pipeline succeeded without registering a model package"
    return {sm.STATUS: status, sm.PIPELINE_EXECUTION_ARN: arn, sm.MODEL_PACKAGE_ARN: package,
            sm.FAILURE_REASON: reason}  # fmt: skip


def registered_package(client: Any, group: str, run_arn: str) -> str | None:
    newest = client.list_model_packages(
        ModelPackageGroupName=group, SortBy="CreationTime", SortOrder="Descending", MaxResults=NEWEST
    )["ModelPackageSummaryList"]
    for summary in newest:
        package = client.describe_model_package(ModelPackageName=summary["ModelPackageArn"])
        if package.get("CustomerMetadataProperties", {}).get(RUN_PROPERTY) == run_arn:
            return str(summary["ModelPackageArn"])
    return None


@require_object_event
@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    result = check(event, client("sagemaker"), os.environ[env_names.MODEL_PACKAGE_GROUP])
    logger.info("pipeline status", extra=result)
    return result
