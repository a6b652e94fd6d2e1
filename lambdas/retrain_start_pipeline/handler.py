"""Start the model build pipeline for a retraining run (idempotent per Step Functions execution).

Input: {"execution": "<execution name>"}. Output: {"pipeline_execution_arn": str}.
"""

from __future__ import annotations

import hashlib
import os
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


def start(event: dict[str, Any], client: Any, pipeline: str) -> dict[str, str]:
    execution = event.get("execution")
    if not isinstance(execution, str) or not execution:
        raise ValueError(f"input.execution: missing ({event!r})")
    response = client.start_pipeline_execution(
        PipelineName=pipeline,
        PipelineExecutionDisplayName=f"retrain-{execution}"[:82],
        PipelineExecutionDescription="Started by the retraining loop after a model-degraded alarm",
        # A retried task must not start a second pipeline run: the token (32-128 characters) makes the call
        # idempotent per Step Functions execution.
        ClientRequestToken=hashlib.sha256(execution.encode()).hexdigest(),
    )
    return {"pipeline_execution_arn": response["PipelineExecutionArn"]}


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    result = start(event, sagemaker(), os.environ["PIPELINE_NAME"])
    logger.info("pipeline started", extra=result)
    return result
